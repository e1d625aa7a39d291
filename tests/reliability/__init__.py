"""The hostile-world reliability suite (issue 20): every test bounds its own time and uses 127.0.0.1 only.

* test_hangs: FIFOs refused (add, resume, folders), a stuck loader bounded per source, web downloads
  with an overall deadline (body and dripped headers) and a minimum rate, model downloads' minimum rate.
* test_pipes: a closed stderr never fails an ingest; re-adding a failed/unfinished source retries it.
* test_export_escaping: model-written HTML/images/script links inert in Markdown exports (plugins' too);
  the user's own notes as typed; plugin SystemExit contained.
* test_template_bombs: loops over any iterable, string/list/int growth, recursion, parse-depth payloads
  fail fast with TemplateError; bad user templates fall back to the default with a notice.
* test_damaged_db: cut / random pages / random header, 0-byte file next to data, repair, backups.
* test_disk_full: SQLITE_FULL (max_page_count) and ENOSPC reported as disk full, resume afterwards,
  unwritable pid file.
* test_small_items: script/data links, empty folders, binary "pages", reading while another process
  writes, the size estimate before long embedding.
* test_kill_points: kill -9 at six exact points of ingestion, then resume: consistent, no duplicates.
"""
