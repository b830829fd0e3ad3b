-- Step 6: dense ids 1..M for users and 1..N for items over the kept ids,
-- in ascending original-id order: numeric when every kept id of that kind is an
-- integer, else lexicographic. 0 stays the padding id.
-- "Integer" means an optional minus and decimal digits only (at most 38, so the
-- value fits a hugeint): '1.5', '1e3', '0x10', '1_000' or ' 7' are not, although
-- DuckDB's cast would accept them, and a kind with such an id sorts as strings.
create or replace table user_map as
with kept as (
    select original_ids.original_id, original_ids.key_hash as user_hash
    from original_ids
    semi join kept_users
        on original_ids.key_hash = kept_users.user_hash
    where original_ids.is_user
),

numeric_check as (
    select bool_and(regexp_full_match(original_id, '-?[0-9]{1,38}')) as all_numeric
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
    select bool_and(regexp_full_match(original_id, '-?[0-9]{1,38}')) as all_numeric
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
