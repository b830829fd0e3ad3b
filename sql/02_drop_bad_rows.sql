-- Step 2 (only with --on_bad_rows=skip, and only when step 1 found bad rows): drop
-- the loaded rows that step 1 lists in `flagged_rows`. Lines that failed to parse
-- never loaded. Deleting keeps the other rows' rowids, so file_row stays the row
-- number in the file.
delete from loaded_events
where rowid in (select rowid from flagged_rows);
