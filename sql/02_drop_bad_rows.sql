-- Step 2 (only with --on_bad_rows=skip, and only when step 1 found bad rows): drop
-- the loaded rows that the view `flagged_rows` (step 0) lists. Lines that failed
-- to parse never loaded. Deleting keeps the other rows' rowids, so file_row stays
-- the row number in the file.
delete from loaded_events
where rowid in (select rowid from flagged_rows);
