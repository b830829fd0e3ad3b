-- Step 6: dense ids 1..M for users over the kept ids (items: below),
-- in ascending original-id order: numeric when every kept id of that kind is an
-- integer, else lexicographic. 0 stays the padding id.
-- "Integer" means an optional minus and decimal digits only (at most 38, so the
-- value fits a hugeint): '1.5', '1e3', '0x10', '1_000' or ' 7' are not, although
-- DuckDB's cast would accept them, and a kind with such an id sorts as strings.
-- Ids equal as numbers ('7' and '07') are ordered as strings.
-- The ids are numbered in one of two branches, the other left empty: a sort key
-- that is NULL on every row would still cost a third of the time.
create or replace table user_map as
with numeric_check as (
    select bool_and(regexp_full_match(user_key, '-?[0-9]{1,38}')) as all_numeric
    from kept_users
),

by_text as (
    select cast(row_number() over (order by user_key) as integer) as user_id, *
    from kept_users
    where not (select all_numeric from numeric_check)
),

by_number as (
    select
        cast(row_number() over (
            order by try_cast(user_key as hugeint), user_key
        ) as integer) as user_id,
        *
    from kept_users
    where (select all_numeric from numeric_check)
),

final as (
    select user_id, user_hash, user_key as original_id
    from by_text
    union all
    select user_id, user_hash, user_key as original_id
    from by_number
)

select * from final;

-- Items get provisional ids here, in text order: step 12 numbers for good the
-- ones that step 11's kept interactions rate (after single_pass, some frequent
-- items lose every user), numerically when those are all integers.
create or replace table item_map as
select
    cast(row_number() over (order by item_key) as integer) as item_id,
    item_hash,
    item_key as original_id
from kept_items;
