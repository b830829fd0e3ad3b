-- Step 1 (Parquet sources; 01_load_events_csv.sql is the alternative): load the
-- registered Arrow table `source_rows`, whose columns are already named by role,
-- into `loaded_events` in file order, with ids as 64-bit hashes as in
-- 01_load_events_csv.sql. ts: epoch seconds, UTC.
set preserve_insertion_order = true;

create or replace table loaded_events as
with final as (
    select
        case when trim(cast(user_key as varchar)) <> ''
            then hash(cast(user_key as varchar)) end as user_hash,
        case when trim(cast(item_key as varchar)) <> ''
            then hash(cast(item_key as varchar)) end as item_hash,
        cast(rating as float) as rating,
        cast(ts as bigint) as ts
    from source_rows
)

select * from final;

set preserve_insertion_order = false;

create or replace view events as
select rowid as file_row, *
from loaded_events;

-- The ids that the filter keeps: every id of `events`. 04_filter_k_core.sql filters
-- `events` itself; 04_filter_single_pass.sql replaces these views with tables.
create or replace view kept_users as
select distinct user_hash
from events;

create or replace view kept_items as
select distinct item_hash
from events;
