//! The six tables chatql builds, defined once: Arrow schema, column documentation and the
//! builders the decoder fills all come from the same `tables!` list, so they cannot drift.
//!
//! Column names are a contract with users' SQL and with later tools; add columns, never
//! rename them. Bump [`SCHEMA_VERSION`] when a column is added or its meaning changes.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

use super::columns::{BoolCol, Column, F32ListCol, PrimCol, StrCol, StrListCol, TsCol};

/// Version of the table layout, in chatql's record of every lake version
/// (the lake's `LakeCommit`).
pub const SCHEMA_VERSION: u32 = 1;

/// One column's name, Arrow type and meaning, for `chatql schema` and the README.
#[derive(Debug, Clone)]
pub struct ColumnDoc {
    /// Column name.
    pub name: &'static str,
    /// What the column holds and where it comes from.
    pub doc: &'static str,
}

macro_rules! tables {
    ($(
        $(#[doc = $tdoc:literal])*
        $variant:ident $tname:ident => $builder:ident {
            $( $(#[doc = $cdoc:literal])* $col:ident : $ty:ty ),* $(,)?
        }
    )*) => {
        /// The tables chatql builds.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Table { $( $(#[doc = $tdoc])* $variant, )* }

        impl Table {
            /// Every table, in the order they are listed and written.
            pub const ALL: &'static [Table] = &[ $( Table::$variant, )* ];

            /// The table's SQL name.
            pub fn name(self) -> &'static str {
                match self { $( Table::$variant => stringify!($tname), )* }
            }

            /// The table's file name in a flat lake (`NAME.parquet`).
            pub fn file_name(self) -> String {
                format!("{}.parquet", self.name())
            }

            /// The table's one-paragraph description.
            pub fn doc(self) -> &'static str {
                match self { $( Table::$variant => concat!($($tdoc, "\n"),*).trim_ascii(), )* }
            }

            /// The table's Arrow schema.
            pub fn schema(self) -> SchemaRef {
                static CACHE: OnceLock<Vec<SchemaRef>> = OnceLock::new();
                let all = CACHE.get_or_init(|| vec![ $( Arc::new($builder::schema()), )* ]);
                all[self as usize].clone()
            }

            /// Name and meaning of each column, in schema order.
            pub fn columns(self) -> Vec<ColumnDoc> {
                match self {
                    $( Table::$variant => vec![ $( ColumnDoc {
                        name: stringify!($col),
                        doc: concat!($($cdoc, " "),*).trim_ascii(),
                    }, )* ], )*
                }
            }

            /// Looks a table up by its SQL name.
            pub fn from_name(name: &str) -> Option<Table> {
                Table::ALL.iter().copied().find(|t| t.name() == name)
            }
        }

        /// Typed column positions of every table: `col::messages::role` is the index of
        /// `role` in the schema of `messages`. Use these instead of looking names up.
        pub mod col {
            $(
                $(#[doc = $tdoc])*
                #[allow(non_upper_case_globals)]
                pub mod $tname {
                    #[allow(non_camel_case_types, dead_code, clippy::enum_variant_names)]
                    enum Idx { $( $col, )* }
                    $( $(#[doc = $cdoc])* pub const $col: usize = Idx::$col as usize; )*
                }
            )*
        }

        $(
            $(#[doc = $tdoc])*
            #[derive(Default, Debug)]
            #[allow(missing_docs)]
            pub struct $builder { $( pub $col: $ty, )* }

            impl $builder {
                fn schema() -> Schema {
                    Schema::new(vec![ $( Field::new(stringify!($col), <$ty as Column>::data_type(), true), )* ])
                }

                /// Rows appended so far (every column has this length between lines).
                pub fn len(&self) -> usize {
                    [ $( self.$col.len(), )* ][0]
                }

                /// Whether no rows are held.
                pub fn is_empty(&self) -> bool {
                    self.len() == 0
                }

                /// Drops the rows past `len` in every column.
                pub fn truncate(&mut self, len: usize) {
                    $( self.$col.truncate(len); )*
                }

                /// Whether all columns have the same length (checked after each line).
                pub fn is_consistent(&self) -> bool {
                    let n = self.len();
                    true $( && self.$col.len() == n )*
                }

                /// Moves the rows out as a batch, leaving the builder empty for reuse.
                pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
                    RecordBatch::try_new(Table::$variant.schema(), vec![ $( self.$col.finish(), )* ])
                }
            }
        )*

        /// Builders for every table: what one decoder fills.
        #[derive(Default, Debug)]
        #[allow(missing_docs)]
        pub struct TableBuilders { $( pub $tname: $builder, )* }

        /// Row counts of every table at one moment, to roll a line back.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub struct Marks { $( pub $tname: usize, )* }

        impl TableBuilders {
            /// Current row counts.
            pub fn marks(&self) -> Marks {
                Marks { $( $tname: self.$tname.len(), )* }
            }

            /// Rolls every table back to `marks`.
            pub fn truncate(&mut self, marks: &Marks) {
                $( self.$tname.truncate(marks.$tname); )*
            }

            /// Whether every table has columns of equal length.
            pub fn is_consistent(&self) -> bool {
                true $( && self.$tname.is_consistent() )*
            }

            /// Cuts a batch of every non-empty table, in [`Table::ALL`] order.
            pub fn finish(&mut self) -> Result<Vec<(Table, RecordBatch)>, ArrowError> {
                let mut out = Vec::new();
                $(
                    if !self.$tname.is_empty() {
                        out.push((Table::$variant, self.$tname.finish()?));
                    }
                )*
                Ok(out)
            }
        }
    };
}

tables! {
    /// One row per conversation (a format-R row or a format-C line).
    Conversations conversations => ConversationsBuilder {
        /// Conversation UUID (`convo_id` of the row, else `convo.id`). Deduplication key.
        convo_id: StrCol,
        /// Database row id of format-R rows (`id`); null for format C. Not unique across deployments.
        row_id: PrimCol<i64>,
        /// Project: row `course_name`, else `convo.projectName`, else the `"course_name "` all its contexts agree on.
        course_name: StrCol,
        /// Row `user_email`, else `convo.userEmail`, else `convo.user_email`; null when anonymous.
        user_email: StrCol,
        /// Row `created_at` (ISO with any offset, or epoch ms), else `convo.createdAt`; UTC.
        created_at: TsCol,
        /// `convo.updatedAt`, UTC.
        updated_at: TsCol,
        /// Conversation title (`convo.name`).
        name: StrCol,
        /// `convo.model.id`.
        model_id: StrCol,
        /// `convo.model.name`.
        model_name: StrCol,
        /// System prompt (`convo.prompt`).
        prompt: StrCol,
        /// `convo.temperature`.
        temperature: PrimCol<f64>,
        /// `convo.folderId`.
        folder_id: StrCol,
        /// Number of messages (rows in `messages`); null when `messages` is not an array.
        message_count: PrimCol<i32>,
        /// Row `summary` (2025 exports of the old backend).
        summary: StrCol,
        /// `R` for a database row with `convo` inside, `C` for the conversation object alone, `CSV` for the 2023-24 CSV.
        source_format: StrCol,
        /// Input the line came from (`archive.zip!member.jsonl` for zip members).
        source_file: StrCol,
        /// 1-based line of the input (of the decompressed stream) where the record starts.
        source_line: PrimCol<i64>,
        /// Byte offset of the record in the (decompressed) input.
        source_offset: PrimCol<i64>,
        /// JSON object of every key without a column of its own (`userEmail`, `projectName`, `createdAt`, `linkParameters`, the rest of `model`, unknown keys), plus `$row` (format-R row keys not modeled) and `$absent`; null when empty.
        extra: StrCol,
    }

    /// One row per message of a conversation, in order.
    Messages messages => MessagesBuilder {
        /// Conversation the message belongs to.
        convo_id: StrCol,
        /// 0-based position in the conversation.
        message_index: PrimCol<i32>,
        /// `user`, `assistant` or `system`.
        role: StrCol,
        /// The string content, or all text parts joined by a newline.
        content: StrCol,
        /// Number of `image_url` content parts.
        image_count: PrimCol<i32>,
        /// Number of `file` content parts.
        file_count: PrimCol<i32>,
        /// Message UUID (`id`, 2024-09 onwards).
        message_id: StrCol,
        /// Per-message `created_at` (reloaded conversations only), UTC.
        created_at: TsCol,
        /// `feedback.isPositive`.
        feedback_positive: BoolCol,
        /// `feedback.category`.
        feedback_category: StrCol,
        /// `feedback.details`.
        feedback_details: StrCol,
        /// Number of contexts on this message (rows in `contexts`); null when the key is absent.
        context_count: PrimCol<i32>,
        /// `latestSystemMessage` (large; on the last user message, 2024-05 onwards).
        system_message: StrCol,
        /// `finalPromtEngineeredMessage` (very large; the prompt actually sent).
        final_prompt: StrCol,
        /// JSON object of every other key (content parts as `content`, `tools`, the rest of `feedback`, `wasQueryRewritten`, ...); null when empty.
        extra: StrCol,
    }

    /// One row per retrieved context, with the message it is attached to.
    Contexts contexts => ContextsBuilder {
        /// Conversation the context belongs to.
        convo_id: StrCol,
        /// Message carrying the context (the user message since 2024-01-30, the assistant one before).
        message_index: PrimCol<i32>,
        /// 0-based position among the message's contexts.
        context_index: PrimCol<i32>,
        /// Chunk text (only the first 100 characters plus `...` in contexts reloaded after 2025-02).
        text: StrCol,
        /// Document name.
        readable_filename: StrCol,
        /// The `"course_name "` key (with its trailing space).
        course_name: StrCol,
        /// S3 key of the document.
        s3_path: StrCol,
        /// Source URL of web pages (`""` for uploads).
        url: StrCol,
        /// Base URL of crawls.
        base_url: StrCol,
        /// 1-based page number; null for `""`.
        pagenumber: PrimCol<i64>,
        /// `chunk_index` / `url_chunk_index` of reloaded contexts (`<s3_path>_<i>`).
        chunk_ref: StrCol,
        /// Document groups.
        doc_groups: StrListCol,
        /// JSON object of every other key (`id`, `course_name` without the space, `pagenumber` when `""`, ...); null when empty.
        extra: StrCol,
    }

    /// One row per document line of a document export.
    Documents documents => DocumentsBuilder {
        /// Document row id (`id`). Not unique across deployments.
        doc_id: PrimCol<i64>,
        /// `created_at` (ISO or epoch ms), UTC.
        created_at: TsCol,
        /// Project.
        course_name: StrCol,
        /// S3 key (`""` for web pages).
        s3_path: StrCol,
        /// Document name.
        readable_filename: StrCol,
        /// Source URL (`""` for uploads).
        url: StrCol,
        /// Base URL of crawls.
        base_url: StrCol,
        /// Number of chunks (rows in `chunks`); null when `contexts` is not an array.
        chunk_count: PrimCol<i32>,
        /// Input the line came from.
        source_file: StrCol,
        /// 1-based line of the input where the record starts.
        source_line: PrimCol<i64>,
        /// Byte offset of the record in the (decompressed) input.
        source_offset: PrimCol<i64>,
        /// JSON object of every key without a column of its own; null when empty.
        extra: StrCol,
    }

    /// One row per chunk of a document, with its embedding.
    Chunks chunks => ChunksBuilder {
        /// Document the chunk belongs to.
        doc_id: PrimCol<i64>,
        /// The document's project (copied from `documents` for joins).
        course_name: StrCol,
        /// The document's S3 key (copied from `documents`, to join with `contexts.s3_path`).
        s3_path: StrCol,
        /// The document's URL (copied from `documents`).
        url: StrCol,
        /// `chunk_index`, or the chunk's position when the key is absent (before 2023-10-26).
        chunk_index: PrimCol<i64>,
        /// Chunk text.
        text: StrCol,
        /// 1-based page number; null for `""`.
        pagenumber: PrimCol<i64>,
        /// Transcript segment of audio/video; null for `""`.
        timestamp: PrimCol<i64>,
        /// Embedding vector (1536 for ada-002, 768 elsewhere); null for the `""` placeholder.
        embedding: F32ListCol,
        /// JSON object of every other key and of values the columns cannot hold (`""` placeholders); null when empty.
        extra: StrCol,
    }

    /// One row per input record chatql could not read.
    Rejects rejects => RejectsBuilder {
        /// Input file.
        source_file: StrCol,
        /// 1-based line.
        source_line: PrimCol<i64>,
        /// Byte offset in the (decompressed) input.
        byte_offset: PrimCol<i64>,
        /// Why it was rejected.
        reason: StrCol,
        /// The first 200 characters of the record.
        snippet: StrCol,
    }
}
