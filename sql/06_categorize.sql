-- Step 6: dense ids 1..M for users and 1..N for items over the kept ids,
-- in ascending original-id order: numeric when every kept id of that kind is an
-- integer, else lexicographic. 0 stays the padding id.
create or replace table user_map as
with kept as (
    select original_ids.original_id, original_ids.key_hash as user_hash
    from original_ids
    semi join kept_users
        on original_ids.key_hash = kept_users.user_hash
    where original_ids.is_user
),

numeric_check as (
    select bool_and(try_cast(original_id as hugeint) is not null) as all_numeric
    from kept
),

final as (
    select
        cast(row_number() over (
            order by
                case when all_numeric then try_cast(original_id as hugeint) end,
                original_id
        ) as integer) as user_id,
        user_hash,
        original_id
    from kept, numeric_check
)

select * from final;

create or replace table item_map as
with kept as (
    select original_ids.original_id, original_ids.key_hash as item_hash
    from original_ids
    semi join kept_items
        on original_ids.key_hash = kept_items.item_hash
    where not original_ids.is_user
),

numeric_check as (
    select bool_and(try_cast(original_id as hugeint) is not null) as all_numeric
    from kept
),

final as (
    select
        cast(row_number() over (
            order by
                case when all_numeric then try_cast(original_id as hugeint) end,
                original_id
        ) as integer) as item_id,
        item_hash,
        original_id
    from kept, numeric_check
)

select * from final;

drop table original_ids;
