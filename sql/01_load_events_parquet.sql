-- Step 1 (Parquet sources; 01_load_events_csv.sql is the alternative): load the
-- registered Arrow table `source_rows`, whose columns are already named by role,
-- into step 0's `loaded_events` in file order, through step 0's checks. A column
-- of another type is converted where it can be (try_cast), else the row is
-- flagged. ts: epoch seconds, UTC.
set preserve_insertion_order = true;

insert into loaded_events
select
    checked_id(cast(user_key as varchar)) as user_key,
    checked_id(cast(item_key as varchar)) as item_key,
    finite_or_null(try_cast(rating as float)) as rating,
    whole_seconds(try_cast(ts as double)) as ts
from source_rows;

set preserve_insertion_order = false;
