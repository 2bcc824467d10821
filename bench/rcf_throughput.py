"""Random Cut Forest score+update throughput on one core: krcf (what the AnomalyDetection job runs) vs AWS's
Java randomcutforest-core in its own JVM (bench/java/, built with Maven).

Both get the same synthetic wind series (one value per point, internal shingling) and the job's forest:
50 trees, sample 256, shingle 4, output after 64, seed 42. Each loop scores a point, then updates the forest
with it, like the job; a second variant also computes the score's attribution, as the job does per reading.
Both processes are pinned to the same single CPU. The Java harness runs the series once on a throwaway
forest before the timed pass, so it is timed with JIT-compiled code. Goal: krcf >= Java.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import krcf

from .common import median, verdict

HERE = Path(__file__).resolve().parent
JAVA_DIR = HERE / "java"
JAR = JAVA_DIR / "target" / "rcf-bench.jar"
BUILD = ["mvn", "-q", "-B", "-f", str(JAVA_DIR / "pom.xml"), "package"]
FOREST = {"trees": 50, "sample_size": 256, "shingle_size": 4, "output_after": 64, "seed": 42}
POINTS = 30_000
VARIANTS = {"score_update": False, "score_attribution_update": True}
QUICK = {"runs": 1, "points": 5_000}  # `python -m bench --quick`: run()'s sizes for a CI-sized check


def wind_series(points: int = POINTS, seed: int = 7) -> list[float]:
    """A wind-like series in mph: a slowly drifting level, turbulence, and a spike every ~2,000 points."""
    rng = random.Random(seed)
    level, values = 22.0, []
    for i in range(points):
        level += 0.02 * (22.0 - level) + rng.gauss(0, 0.3)
        speed = max(0.0, level + rng.gauss(0, 0.15 * level))
        values.append(round(95.0 if i % 2_000 == 1_999 else speed, 1))
    return values


def build_harness() -> Path:
    """Build bench/java with Maven (fetches randomcutforest-core once); return the jar."""
    sources = [JAVA_DIR / "pom.xml", *JAVA_DIR.glob("src/**/*.java")]
    if JAR.exists() and all(path.stat().st_mtime <= JAR.stat().st_mtime for path in sources):
        return JAR
    if shutil.which("mvn") is None:
        raise RuntimeError("Maven (mvn) is needed to build the Java reference of the RCF benchmark: "
                           "install it (apt-get install maven) and run `make bench` again.")
    print(f"building the Java reference {JAR.relative_to(HERE.parent)} with Maven (once; fetches "
          "randomcutforest-core) ...", flush=True)
    subprocess.run(BUILD, check=True, timeout=900)
    return JAR


def prepare() -> None:
    """What a fresh clone lacks: the Java harness."""
    build_harness()


@contextmanager
def one_cpu(cpu: int):
    """Run this process on CPU `cpu` only, then restore its affinity."""
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, saved)


def krcf_run(series: list[float], attribution: bool, cpu: int) -> dict:
    """Score, (attribution,) update every point with a fresh krcf forest on one CPU."""
    forest = krcf.RandomCutForest({
        "dimensions": 1, "shingle_size": FOREST["shingle_size"], "internal_shingling": True,
        "num_trees": FOREST["trees"], "sample_size": FOREST["sample_size"],
        "output_after": FOREST["output_after"], "random_seed": FOREST["seed"],
    })
    score_sum = 0.0
    with one_cpu(cpu):
        started = time.perf_counter()
        for value in series:
            point = [value]
            score_sum += forest.score(point)
            if attribution:
                forest.attribution(point)
            forest.update(point)
        seconds = time.perf_counter() - started
    return {"points_per_s": len(series) / seconds, "mean_score": score_sum / len(series)}


def java_run(jar: Path, series_file: Path, points: int, attribution: bool, cpu: int) -> dict:
    """The same loop in randomcutforest-core, in its own JVM pinned to one CPU."""
    command = ["java", "-jar", str(jar), str(series_file), *(str(FOREST[k]) for k in
               ("trees", "sample_size", "shingle_size", "output_after", "seed")), str(attribution).lower()]
    done = subprocess.run(command, check=True, capture_output=True, text=True, timeout=600,
                          preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return {"points_per_s": answer["points_per_s"], "mean_score": answer["score_sum"] / points}


def run(runs: int = 5, points: int = POINTS) -> dict:
    jar = build_harness()
    series = wind_series(points)
    cpu = max(os.sched_getaffinity(0))
    variants = {}
    with tempfile.TemporaryDirectory(prefix="rcf-bench-") as folder:
        series_file = Path(folder) / "series.txt"
        series_file.write_text("\n".join(repr(v) for v in series) + "\n")
        for name, attribution in VARIANTS.items():
            ours, java = [], []
            for index in range(runs):
                ours.append(krcf_run(series, attribution, cpu))
                java.append(java_run(jar, series_file, points, attribution, cpu))
                print(f"rcf {name} run {index + 1}/{runs}: krcf {ours[-1]['points_per_s']:,.0f} points/s, "
                      f"Java {java[-1]['points_per_s']:,.0f} points/s", flush=True)
            krcf_rate = median([r["points_per_s"] for r in ours])
            java_rate = median([r["points_per_s"] for r in java])
            variants[name] = {
                "krcf_points_s": round(krcf_rate), "java_points_s": round(java_rate),
                "ratio_krcf_to_java": round(krcf_rate / java_rate, 2),
                "krcf_runs": [round(r["points_per_s"]) for r in ours],
                "java_runs": [round(r["points_per_s"]) for r in java],
                "krcf_mean_score": round(ours[0]["mean_score"], 4), "java_mean_score": round(java[0]["mean_score"], 4),
            }
    result = {
        "points": points, "runs": runs, "forest": FOREST, "cpu": cpu,
        "krcf_version": krcf.__version__, "java_library": "software.amazon.randomcutforest:randomcutforest-core 4.2.0",
        "variants": variants,
        "goal": "krcf >= Java (score+update, one core)",
        "meets_goal": variants["score_update"]["ratio_krcf_to_java"] >= 1.0,
    }
    return result


def render(result: dict) -> str:
    outcome = verdict(result)
    rows = "".join(
        f"| {label} | {v['krcf_points_s']:,} points/s | Java randomcutforest-core: {v['java_points_s']:,} points/s "
        f"| {v['ratio_krcf_to_java']} |\n"
        for label, v in (("score + update", result["variants"]["score_update"]),
                         ("score + attribution + update (as the job)", result["variants"]["score_attribution_update"])))
    su = result["variants"]["score_update"]
    return (
        "## Random Cut Forest throughput, one core\n\n"
        "| figure (krcf {krcf_version}) | value | reference | ratio |\n|---|---|---|---|\n".format(**result) + rows +
        f"\nMedian of {result['runs']} runs each, alternating, both pinned to CPU {result['cpu']}; "
        f"{result['points']:,} points of a synthetic wind series (the same file for both), forest of "
        "{trees} trees, sample {sample_size}, shingle {shingle_size} (internal shingling), output after "
        "{output_after}. ".format(**result["forest"]) +
        f"The Java harness (bench/java, {result['java_library']}, parallel execution off) times its second pass "
        "over the series, after JIT warm-up. Mean scores agree in scale "
        f"(krcf {su['krcf_mean_score']}, Java {su['java_mean_score']}): both compute the same statistic. "
        f"Goal: {result['goal']} — {outcome}.\n"
    )
