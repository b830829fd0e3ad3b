-- Step 2: replace string keys by integer codes so that every later step works on
-- 4-byte ints. Codes follow ascending original id: numeric when every id of that
-- kind is an integer, else lexicographic. They are dense over the loaded rows;
-- step 6 makes them dense over the kept rows without changing their order.
create or replace table user_keys as
with distinct_keys as (
    select user_key as original_id
    from loaded_events
    group by user_key
),

numeric_check as (
    select bool_and(try_cast(original_id as hugeint) is not null) as all_numeric
    from distinct_keys
),

final as (
    select
        original_id,
        cast(row_number() over (
            order by
                case when all_numeric then try_cast(original_id as hugeint) end,
                original_id
        ) as integer) as code
    from distinct_keys, numeric_check
)

select * from final;

create or replace table item_keys as
with distinct_keys as (
    select item_key as original_id
    from loaded_events
    group by item_key
),

numeric_check as (
    select bool_and(try_cast(original_id as hugeint) is not null) as all_numeric
    from distinct_keys
),

final as (
    select
        original_id,
        cast(row_number() over (
            order by
                case when all_numeric then try_cast(original_id as hugeint) end,
                original_id
        ) as integer) as code
    from distinct_keys, numeric_check
)

select * from final;

create or replace table events as
with final as (
    select
        loaded.rowid as file_row,
        users.code as user_code,
        items.code as item_code,
        loaded.rating,
        loaded.ts
    from loaded_events as loaded
    join user_keys as users
        on loaded.user_key = users.original_id
    join item_keys as items
        on loaded.item_key = items.original_id
)

select * from final;

drop table loaded_events;
