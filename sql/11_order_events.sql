-- Step 11: the kept interactions with dense ids, ordered by user, then timestamp
-- (epoch seconds, UTC), then file row, so equal timestamps keep file order.
-- The runner cuts this stream into one list per user at user boundaries. The maps
-- hold only the kept ids, so the inner joins also drop what the filter dropped.
-- The file row is sorted as a 32-bit number, a narrower sort key (about 0.2 s of
-- 1.2 s at 20M rows); a file of more than 4.29e9 rows fails with a cast error.
with final as (
    select
        user_map.user_id,
        item_map.item_id,
        events.rating,
        events.ts,
        cast(events.file_row as uinteger) as file_row
    from events
    join user_map using (user_hash)
    join item_map using (item_hash)
)

select user_id, item_id, rating, ts
from final
order by user_id, ts, file_row
