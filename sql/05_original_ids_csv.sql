-- Step 5 (CSV sources; 05_original_ids_parquet.sql is the alternative): recover
-- the original string of every id with a second scan of the ratings file. Bad
-- lines are rejected here as in step 1, into tables of this step's own (dropped
-- at its end): with ignore_errors instead, DuckDB stops reading at some bad lines
-- (text after a closing quote) and the later ids would be missing. Grouping the
-- strings themselves yields each distinct id once with its hash, so the runner can
-- prove that no two distinct ids share a hash.
create or replace table original_ids as
with scanned as (
    select columns(lambda c: c in ('user_key', 'item_key'))
    from read_csv(
        $path,
        columns = $columns,
        delim = $delim,
        quote = $quote,
        escape = $quote,
        header = $header,
        encoding = $encoding,
        auto_detect = false,
        store_rejects = true,
        rejects_table = 'original_id_rejects',
        rejects_scan = 'original_id_reject_scans'
    )
),

distinct_keys as (
    select user_key, item_key
    from scanned
    group by grouping sets ((user_key), (item_key))
),

final as (
    select
        user_key is not null as is_user,
        coalesce(user_key, item_key) as original_id,
        hash(coalesce(user_key, item_key)) as key_hash
    from distinct_keys
    where trim(coalesce(user_key, item_key)) <> ''
)

select * from final;

drop table original_id_rejects;

drop table original_id_reject_scans;
