-- Step 1 (Parquet sources): copy the registered Arrow table `source_rows`, whose
-- columns are already named by role, into `loaded_events` in file order.
-- ts: epoch seconds, UTC.
set preserve_insertion_order = true;

create or replace table loaded_events as
select
    cast(user_key as varchar) as user_key,
    cast(item_key as varchar) as item_key,
    cast(rating as float) as rating,
    cast(ts as bigint) as ts
from source_rows;

set preserve_insertion_order = false;
