-- Step 9 (ML-1M; 09_parse_items_ml_100k.sql is the alternative): read movies.dat
-- (MovieID::Title::Genres) into `parsed_items`: the title, its release year from
-- the trailing "(year)", and the genre names in their listed order.
-- Lines that do not parse go to `side_file_rejects`; the runner reports them.
create or replace table parsed_items as
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
        auto_detect = false,
        store_rejects = true,
        rejects_table = 'side_file_rejects',
        rejects_scan = 'side_file_scans'
    )
),

final as (
    select
        item_key,
        title,
        try_cast(regexp_extract(title, '\((\d{4})\)\s*$', 1) as integer) as year,
        string_split(genres, '|') as genre_names
    from raw_items
)

select * from final;
