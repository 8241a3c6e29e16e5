"""Plausible wrong answers, kept as tests: each must fail its own exercise with a hint that
names the mistake (issue 10's standard for every lesson).

A mistake is the solution's answer cell with one fragment replaced, so it stays in step with
the solution: when the fragment is gone from the solution, `submission` says so instead of
grading a stale case. The grader shows the check's own message, so its feedback is what the
learner reads under the check cell in JupyterLab.
"""

from dataclasses import dataclass

from workbook import markers
from workbook.grading import samples

LAKE = "03_advanced/lake/01_files_to_lake"
PF01 = "03_advanced/prefect/01_flows_and_tasks"


@dataclass(frozen=True)
class Mistake:
    name: str  # a learner name in the roster: unique, short
    lesson: str  # a course lesson key
    cell: str  # the id of the answer cell the mistake is made in
    right: str  # a fragment of the solution's answer ...
    wrong: str  # ... and what the mistaken learner writes instead
    hint: str  # words the failed check's message must contain

    def exercise(self) -> str:
        solution, _ = samples.lesson(self.lesson)
        return next(markers.exercise(c) for c in solution.cells if c.id == self.cell)

    def submission(self):
        """The lesson answered correctly, except for this mistake."""
        solution, student = samples.lesson(self.lesson)
        answers = samples.answers(solution)
        if self.right not in answers.get(self.cell, ""):
            raise ValueError(f"mistake {self.name}: the solution's cell {self.cell} no longer "
                             f"contains {self.right!r}; update tests/mistakes.py")
        answers[self.cell] = answers[self.cell].replace(self.right, self.wrong)
        return samples.submission(student, answers)


MISTAKES = (
    Mistake("read-without-keep-default-na", "01_beginner/01_extract_transform",
            "read-day-solution", right=" keep_default_na=False,", wrong="",
            hint="keep_default_na=False"),
    Mistake("no-delete-before-insert", "01_beginner/02_load", "load-day-solution",
            right='conn.execute("DELETE FROM sales WHERE sale_date = ?", (day.isoformat(),))\n',
            wrong="", hint="delete the day's rows before inserting them again"),
    Mistake("sum-without-round", "01_beginner/02_load", "revenue-sql-solution",
            right="ROUND(SUM(revenue), 2) AS", wrong="SUM(revenue) AS",
            hint="not a whole number of cents: round the sum"),
    Mistake("sum-of-rounded-lines", "01_beginner/02_load", "revenue-sql-solution",
            right="ROUND(SUM(revenue), 2) AS", wrong="SUM(ROUND(revenue, 2)) AS",
            hint="rounding each line first"),
    Mistake("bad-input-logged-as-warning", "01_beginner/03_notebook_to_script",
            "script-main-solution", right='log.error("bad input: %s", err)',
            wrong='log.warning("bad input: %s", err)',
            hint="your script logged `WARNING sales_report: bad input: sales_2015-06-06.csv"),
    Mistake("bad-input-printed", "01_beginner/03_notebook_to_script", "script-main-solution",
            right='log.error("bad input: %s", err)', wrong='print(f"bad input: {err}")',
            hint="your script logged nothing about the bad input"),
    Mistake("cron-every-minute-of-hour-8", "01_beginner/04_scheduling_with_cron",
            "schedule-solution", right='"0 8 * * *"', wrong='"* 8 * * *"',
            hint="'*' in the minute field means every minute"),
    Mistake("request-without-timeout", "02_intermediate/02_sources", "weather-call-solution",
            right=", timeout=(3.05, 10))", wrong=")", hint="timeout="),
    Mistake("no-raise-for-status", "02_intermediate/02_sources", "weather-call-solution",
            right="    response.raise_for_status()\n", wrong="", hint="raise_for_status()"),
    Mistake("warehouse-load-without-delete", "02_intermediate/03_the_dag",
            "idempotent-load-solution",
            right='            con.execute(f"DELETE FROM {TABLE} WHERE sale_date = ?", [day])\n',
            wrong="", hint="delete the day's rows before inserting"),
    Mistake("psycopg2-error-class", "02_intermediate/04_reliability", "fail-fast-solution",
            right='"psycopg.errors.UndefinedColumn"', wrong='"psycopg2.errors.UndefinedColumn"',
            hint="psycopg 3"),
    Mistake("python-loop-over-xcomarg", "02_intermediate/05_dynamic_mapping", "expand-solution",
            right="    load(enrich.expand(store=stores))\n",
            wrong="    load([enrich(store) for store in stores])\n", hint=".expand("),
    # 03_advanced/lake/01_files_to_lake: one per warning of the lesson
    Mistake("event-keys-not-decoded", LAKE, "event-keys-solution",
            right='unquote_plus(record["s3"]["object"]["key"])',
            wrong='record["s3"]["object"]["key"]', hint="still look URL-encoded"),
    Mistake("event-keys-unquote-not-plus", LAKE, "event-keys-solution",
            right="    message = json.loads(body)\n",
            wrong="    from urllib.parse import unquote as unquote_plus  # the wrong decoder\n"
                  "    message = json.loads(body)\n",
            hint="a space arrives as '+': decode with unquote_plus"),
    Mistake("validation-not-lazy", LAKE, "validate-file-solution",
            right=".validate(rows, lazy=True)", wrong=".validate(rows)", hint="lazy=True"),
    Mistake("resent-readings-rejected", LAKE, "validate-file-solution",
            right=".drop_duplicates(ignore_index=True)", wrong="",
            hint="drop exact duplicates before validating"),
    Mistake("append-without-transaction", LAKE, "exactly-once-solution",
            right=", commit_properties=CommitProperties(app_transactions=done))", wrong=")",
            hint="rows again: record each file as an app transaction"),
    Mistake("read-rows-before-append", LAKE, "exactly-once-solution",
            right="    new = [f for f in files if snapshot.transaction_version(table.app_id(f.key, "
                  "f.etag)) is None]\n    if not new:\n        return 0\n"
                  "    data = table.to_arrow(new, dt.datetime.now(dt.UTC))\n"
                  "    done = [Transaction(table.app_id(f.key, f.etag), 1) for f in new]\n",
            wrong="    there = set(snapshot.to_pandas(columns=['source_key'])['source_key'])\n"
                  "    new = [f for f in files if f.key not in there]\n"
                  "    if not new:\n        return 0\n"
                  "    data = table.to_arrow(new, dt.datetime.now(dt.UTC))\n"
                  "    done = []  # the rows themselves say which files are there\n",
            hint="a read of the rows before writing is not a record"),
    Mistake("quarantine-delete-before-copy", LAKE, "quarantine-solution",
            right="    for source in (key, manifest_key(key)):\n"
                  "        s3.copy_object(Bucket=bucket, Key=quarantine_key(source),\n"
                  '                       CopySource={"Bucket": bucket, "Key": source})\n',
            wrong="    for source in (key, manifest_key(key)):  # move each file in turn\n"
                  "        s3.copy_object(Bucket=bucket, Key=quarantine_key(source),\n"
                  '                       CopySource={"Bucket": bucket, "Key": source})\n'
                  "        s3.delete_object(Bucket=bucket, Key=source)\n",
            hint="deleted from incoming/ before"),
    Mistake("quarantine-manifest-deleted-first", LAKE, "quarantine-solution",
            right="    s3.delete_object(Bucket=bucket, Key=key)\n"
                  "    s3.delete_object(Bucket=bucket, Key=manifest_key(key))\n",
            wrong="    s3.delete_object(Bucket=bucket, Key=manifest_key(key))\n"
                  "    s3.delete_object(Bucket=bucket, Key=key)\n",
            hint="delete the manifest last"),
    Mistake("redelivered-key-not-skipped", LAKE, "ingest-batch-solution",
            right="    if manifest is None or data is None:  # not complete yet, or already moved\n"
                  "        counts[\"skipped\"] += 1\n        return\n",
            wrong="", hint="skip a file whose manifest or data is gone"),
    # 03_advanced/prefect/01_flows_and_tasks
    Mistake("block-saved-without-overwrite", PF01, "bucket-block-solution",
            right="    block.save(name, overwrite=True, _sync=True)\n",
            wrong="    block.save(name, _sync=True)\n", hint="overwrite=True"),
    Mistake("retry-every-failure", PF01, "retry-condition-solution",
            right="    except Exception:  # a bad file (BadFile), a missing bucket, a bug: the "
                  "same next time\n        return False\n",
            wrong="    except Exception:  # whatever failed may work next time\n"
                  "        return True\n",
            hint="do not retry BadFile, it goes to quarantine"),
    Mistake("retry-every-s3-error", PF01, "retry-condition-solution",
            right='        return err.response["Error"]["Code"] in TRANSIENT_CODES\n',
            wrong="        return True  # S3 failed: try again\n",
            hint="a missing bucket or AccessDenied stays so"),
    Mistake("cache-on-key-alone", PF01, "cache-key-solution",
            right="    return f\"{parameters['key']}@{parameters['etag']}\"\n",
            wrong="    return parameters[\"key\"]\n",
            hint="put the ETag in the cache key"),
    Mistake("cache-default-policy", PF01, "cache-key-solution",
            right="CACHE_POLICY = TASK_SOURCE + CacheKeyFnPolicy(cache_key_fn=file_version)\n",
            wrong="CACHE_POLICY = DEFAULT\n", hint="DEFAULT includes RUN_ID"),
    Mistake("cache-without-task-source", PF01, "cache-key-solution",
            right="CACHE_POLICY = TASK_SOURCE + CacheKeyFnPolicy(cache_key_fn=file_version)\n",
            wrong="CACHE_POLICY = CacheKeyFnPolicy(cache_key_fn=file_version)\n",
            hint="add TASK_SOURCE"),
    Mistake("task-called-in-a-loop", PF01, "map-files-solution",
            right="    futures = check_file.map(unmapped(block), list(files), "
                  "list(files.values()))\n"
                  "    for future in futures:\n"
                  "        outcome = future.result(raise_on_failure=False)\n",
            wrong="    for key, etag in files.items():  # one file after the other\n"
                  "        try:\n"
                  "            outcome = check_file(block, key, etag)\n"
                  "        except BadFile as err:\n"
                  "            outcome = err\n",
            hint="runs each call serially"),
    Mistake("failed-future-raises", PF01, "map-files-solution",
            right="        outcome = future.result(raise_on_failure=False)\n",
            wrong="        outcome = future.result()\n", hint="raise_on_failure=False"),
    Mistake("watermark-not-advanced", PF01, "watermark-solution",
            right="    if watermark is not None:\n"
                  "        Variable.set(WATERMARK, watermark, overwrite=True)\n",
            wrong="", hint="the watermark was not advanced"),
    Mistake("watermark-before-commit", PF01, "watermark-solution",
            right="    done = ingest_flow.ingest_files(block, files)\n"
                  "    if watermark is not None:\n"
                  "        Variable.set(WATERMARK, watermark, overwrite=True)\n",
            wrong="    if watermark is not None:\n"
                  "        Variable.set(WATERMARK, watermark, overwrite=True)\n"
                  "    done = ingest_flow.ingest_files(block, files)\n",
            hint="advanced before the commit"),
    Mistake("watermark-not-used", PF01, "watermark-solution",
            right="    files, watermark = new_files(block, since, lag_s)\n",
            wrong="    files, watermark = new_files(block, None, lag_s)  # every ready file\n",
            hint="pass the Variable's watermark"),
)
