-- Step 1: load a delimited ratings file into `loaded_events`, one row per line.
-- Columns arrive named by role (user_key, item_key, rating, ts) through the bound
-- $columns struct; other fields are named unused_<n> and dropped here. A file
-- without ratings gets rating 1.0 (implicit feedback). ts: epoch seconds, UTC.
-- Insertion order is kept so that the table's rowid is the file row number; lines
-- that fail to parse go to the reject_errors table with their exact line number.
set preserve_insertion_order = true;

create or replace table loaded_events as
select columns(lambda c: c in ('user_key', 'item_key', 'rating', 'ts'))
from read_csv(
    $path,
    columns = $columns,
    delim = $delim,
    quote = $quote,
    escape = $quote,
    header = $header,
    encoding = $encoding,
    auto_detect = false,
    store_rejects = true
);

alter table loaded_events add column if not exists rating float default 1.0;

set preserve_insertion_order = false;
