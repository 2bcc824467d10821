"""The DIY exercise (notebook 06): build CalculateMaxSpeed -> MaxWindSpeed -> DIYFunction -> DIYTable yourself,
writing two pieces of its code: the window rule of the Flink application (exercise 1) and the per-record rule of
the Lambda function (exercise 7). Your files live in `work_folder()`; labkit zips them into the application and
the function, in place of the course's own.

Each exercise has an autograder check that prints ✓, or raises CheckFailed naming the exercise, what is
missing or wrong, and a hint; and a reference solution that the headless run uses:

    diy.check(1)        # Exercise 1 · your window rule, on edge cases
    diy.solve(1)        # write (and show) the reference solution of exercise 1
    diy.check_results() # the whole pipeline: DIYTable against what the simulator sent
"""
from .checks import CHECKS, check
from .pipeline import check_results, draw_max_speeds, until_results_complete
from .reference import solution_code, solve
from .work import RECORD_RULE, WINDOW_RULE, work_folder

__all__ = ["CHECKS", "RECORD_RULE", "WINDOW_RULE", "check", "check_results", "draw_max_speeds", "solution_code", "solve",
           "until_results_complete", "work_folder"]
