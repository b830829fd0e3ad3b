-- Step 9 (ML-1M): item features from movies.dat (MovieID::Title::Genres): the
-- title, its release year, genre codes and title-word codes. A code is the
-- 1-based rank of the genre or word among the file's distinct ones (never a
-- process-dependent hash). Words are lower-cased letter/digit runs of the title
-- without its trailing "(year)".
create or replace table item_map as
with raw_items as (
    select *
    from read_csv(
        $path,
        columns = {'item_key': 'VARCHAR', 'title': 'VARCHAR', 'genres': 'VARCHAR'},
        delim = '::',
        quote = '',
        escape = '',
        header = false,
        encoding = $encoding,
        auto_detect = false
    )
),

parsed_items as (
    select
        item_key,
        title,
        try_cast(regexp_extract(title, '\((\d{4})\)\s*$', 1) as integer) as year,
        string_split(genres, '|') as genre_names,
        list_filter(
            regexp_split_to_array(
                lower(regexp_replace(title, '\s*\(\d{4}\)\s*$', '')),
                '[^\p{L}\p{N}]+'
            ),
            lambda word: word <> ''
        ) as words
    from raw_items
),

genre_positions as (
    select item_key, unnest(genre_names) as genre, generate_subscripts(genre_names, 1) as position
    from parsed_items
),

word_positions as (
    select item_key, unnest(words) as word, generate_subscripts(words, 1) as position
    from parsed_items
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
        parsed_items.title,
        parsed_items.year,
        coalesce(item_genres.genres, []::integer[]) as genres,
        coalesce(item_words.title_words, []::integer[]) as title_words
    from item_map
    left join parsed_items
        on item_map.original_id = parsed_items.item_key
    left join item_genres
        on item_map.original_id = item_genres.item_key
    left join item_words
        on item_map.original_id = item_words.item_key
)

select * from final;
