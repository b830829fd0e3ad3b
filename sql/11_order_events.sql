-- Step 11: the kept interactions with dense ids, ordered by user, then timestamp
-- (epoch seconds, UTC), then file row, so equal timestamps keep file order.
-- The runner cuts this stream into one list per user at user boundaries. The maps
-- hold only the kept ids, so the inner joins also drop what the filter dropped.
with final as (
    select
        user_map.user_id,
        item_map.item_id,
        events.rating,
        events.ts,
        events.file_row
    from events
    join user_map using (user_hash)
    join item_map using (item_hash)
)

select user_id, item_id, rating, ts
from final
order by user_id, ts, file_row
