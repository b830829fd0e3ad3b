-- Step 2 (only with --on_bad_rows=skip, and only when step 1 found bad rows): drop
-- the loaded rows that step 1 flagged in `bad_field`. Lines that failed to parse
-- never loaded. Deleting keeps the other rows' rowids, so file_row stays the row
-- number in the file.
delete from loaded_events
where bad_field is not null;
