package bench;

import com.amazon.randomcutforest.RandomCutForest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Score, then update, every value of a series with one Random Cut Forest (1 input dimension, internal
 * shingling), on the calling thread only, and print one JSON line: {"points", "seconds", "points_per_s",
 * "score_sum"}.
 *
 * <p>The series is run once on a throwaway forest first, so the timed pass runs JIT-compiled code, as a
 * long-lived job would. Arguments: INPUT (one value per line) TREES SAMPLE SHINGLE OUTPUT_AFTER SEED
 * ATTRIBUTION (true: also compute the score's attribution, as the AnomalyDetection job does).
 */
public final class RcfThroughput {

    private RcfThroughput() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 7) {
            System.err.println("usage: java -jar rcf-bench.jar INPUT TREES SAMPLE SHINGLE OUTPUT_AFTER SEED ATTRIBUTION");
            System.exit(2);
        }
        List<String> lines = Files.readAllLines(Path.of(args[0]));
        double[] series = lines.stream().filter(line -> !line.isBlank()).mapToDouble(Double::parseDouble).toArray();
        int trees = Integer.parseInt(args[1]);
        int sample = Integer.parseInt(args[2]);
        int shingle = Integer.parseInt(args[3]);
        int outputAfter = Integer.parseInt(args[4]);
        long seed = Long.parseLong(args[5]);
        boolean attribution = Boolean.parseBoolean(args[6]);

        run(forest(trees, sample, shingle, outputAfter, seed), series, attribution);
        RandomCutForest forest = forest(trees, sample, shingle, outputAfter, seed);
        long started = System.nanoTime();
        double scoreSum = run(forest, series, attribution);
        double seconds = (System.nanoTime() - started) / 1e9;
        System.out.printf("{\"points\": %d, \"seconds\": %.6f, \"points_per_s\": %.1f, \"score_sum\": %.6f}%n",
                series.length, seconds, series.length / seconds, scoreSum);
    }

    static RandomCutForest forest(int trees, int sample, int shingle, int outputAfter, long seed) {
        return RandomCutForest.builder()
                .dimensions(shingle)
                .shingleSize(shingle)
                .internalShinglingEnabled(true)
                .numberOfTrees(trees)
                .sampleSize(sample)
                .outputAfter(outputAfter)
                .randomSeed(seed)
                .parallelExecutionEnabled(false)
                .build();
    }

    static double run(RandomCutForest forest, double[] series, boolean attribution) {
        double scoreSum = 0;
        double[] point = new double[1];
        for (double value : series) {
            point[0] = value;
            scoreSum += forest.getAnomalyScore(point);
            if (attribution) {
                forest.getAnomalyAttribution(point);
            }
            forest.update(point);
        }
        return scoreSum;
    }
}
