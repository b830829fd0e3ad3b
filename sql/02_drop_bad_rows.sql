-- Step 2 (only with --on_bad_rows=skip, and only when step 1 found bad rows): drop
-- the loaded rows with an empty id or value. Lines that failed to parse never
-- loaded. Deleting keeps the other rows' rowids, so file_row stays the file row.
delete from loaded_events
where user_hash is null or item_hash is null or rating is null or ts is null;
