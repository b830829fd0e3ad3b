-- Step 6: dense ids 1..M for users and 1..N for items over the kept interactions,
-- in ascending original-id order (codes already follow it). 0 stays the padding id.
create or replace table user_map as
with kept as (
    select distinct user_code
    from events
),

final as (
    select
        cast(row_number() over (order by kept.user_code) as integer) as user_id,
        kept.user_code,
        user_keys.original_id
    from kept
    join user_keys
        on kept.user_code = user_keys.code
)

select * from final;

create or replace table item_map as
with kept as (
    select distinct item_code
    from events
),

final as (
    select
        cast(row_number() over (order by kept.item_code) as integer) as item_id,
        kept.item_code,
        item_keys.original_id
    from kept
    join item_keys
        on kept.item_code = item_keys.code
)

select * from final;
