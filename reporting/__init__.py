"""The report package: one run's record (report.json, reporting.schema) and its renders.

Both tools write through it and neither compiles anything here. The pieces:

    schema/        the typed records, report.json's versioned form, the reader of v1
    rundir         reports/<UTC time>-<sha>[-dirty]/ and reports/latest
    write          report.json, then summary.txt, report.md, results.csv and the PNGs
    console, bench_table, markdown, audit_tables, csv_table, plots: the renders
    baseline, regressions, regression_md, publish: baselines and the comparison with one
    version_matrix, matrix_tables: several releases' reports side by side
"""
