create table notes (
    id integer primary key autoincrement,
    title text not null,
    body text not null,
    created_at text not null,
    updated_at text not null
);
create unique index notes_title on notes (lower(title));
