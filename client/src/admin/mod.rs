//! The admin client: topics, groups, offsets, cluster info, message queries.
