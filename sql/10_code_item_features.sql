-- Step 10 (with step 9): item features on `item_map`: title, year, genre codes and
-- title-word codes. A code is the 1-based rank of the genre or word among the
-- file's distinct ones (never a process-dependent hash); lists keep the order of
-- the genres and words. Words are lower-cased letter/digit runs of the title
-- without its trailing "(year)".
create or replace table item_map as
with titled_items as (
    select
        *,
        list_filter(
            regexp_split_to_array(
                lower(regexp_replace(title, '\s*\(\d{4}\)\s*$', '')),
                '[^\p{L}\p{N}]+'
            ),
            lambda word: word <> ''
        ) as words
    from parsed_items
),

genre_positions as (
    select
        item_key,
        unnest(genre_names) as genre,
        generate_subscripts(genre_names, 1) as position
    from titled_items
),

word_positions as (
    select
        item_key,
        unnest(words) as word,
        generate_subscripts(words, 1) as position
    from titled_items
),

genre_vocabulary as (
    select genre, cast(row_number() over (order by genre) as integer) as code
    from (select distinct genre from genre_positions)
),

word_vocabulary as (
    select word, cast(row_number() over (order by word) as integer) as code
    from (select distinct word from word_positions)
),

item_genres as (
    select item_key, list(genre_vocabulary.code order by position) as genres
    from genre_positions
    join genre_vocabulary using (genre)
    group by item_key
),

item_words as (
    select item_key, list(word_vocabulary.code order by position) as title_words
    from word_positions
    join word_vocabulary using (word)
    group by item_key
),

final as (
    select
        item_map.*,
        titled_items.title,
        titled_items.year,
        coalesce(item_genres.genres, []::integer[]) as genres,
        coalesce(item_words.title_words, []::integer[]) as title_words
    from item_map
    left join titled_items
        on item_map.original_id = titled_items.item_key
    left join item_genres
        on item_map.original_id = item_genres.item_key
    left join item_words
        on item_map.original_id = item_words.item_key
)

select * from final;

drop table parsed_items;
