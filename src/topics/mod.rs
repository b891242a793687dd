//! `chatql topics`: what students ask about, as a topic map of the questions, offline.
//!
//! 1. [`load`] reads every user question and, when a document export is among the inputs,
//!    places each question that retrieved known chunks in the course material's embedding
//!    space (the mean of those chunks' embeddings, projected to 96 dimensions).
//! 2. Questions are deduplicated by normalized text, then clustered with spherical k-means
//!    ([`kmeans()`]): on the retrieval vectors when there are enough of them, the questions
//!    without one then assigned by their words (naive Bayes over their terms, trained on
//!    the questions the retrieval placed and the chunks of the course material); otherwise
//!    on their words alone: TF-IDF of words and bigrams ([`text`]) in the latent space of
//!    LSA ([`lsa`]). Without `-k`, k is the one of best silhouette on a sample.
//! 3. Each topic is named by its most distinctive terms (c-TF-IDF) and described by its
//!    questions, conversations, users, share, months, negative-feedback rate, most cited
//!    documents and the five questions closest to its centre ([`Topic`]).
//! 4. [`html`] draws the map; [`table`] turns topics and assignments into record batches for
//!    the usual formats.

mod bayes;
pub mod html;
pub mod kmeans;
pub mod load;
pub mod lsa;
mod map;
pub mod table;
pub mod text;

use std::collections::{BTreeMap, HashMap, HashSet};

use bayes::NaiveBayes;
use kmeans::{
    kmeans, nearest, normalize, silhouette, Clustering, Dense, KMeansOptions, Points, Rng,
    SparseRows,
};
use load::{Loaded, Question, DIM};
use map::{pca2, profiles, Centres};
use text::{class_labels, tfidf, TextOptions};

use crate::error::{Error, Result};
use crate::model::normalize_question;
use crate::query::{Catalog, CatalogOptions, Restriction};
use crate::table::Table;

/// Output formats of `chatql topics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TopicFormat {
    /// Box-drawn tables in the terminal.
    Table,
    /// GitHub-flavoured Markdown.
    Markdown,
    /// One JSON document: topics with their months, documents and examples.
    Json,
    /// The topic table as CSV.
    Csv,
    /// A self-contained page with the map.
    Html,
}

/// How to find topics.
#[derive(Debug, Clone)]
pub struct TopicOptions {
    /// Number of topics; chosen by silhouette when none.
    pub k: Option<usize>,
    /// Seed of every random choice (the same input and seed give the same topics).
    pub seed: u64,
    /// Without a document export, fewer questions than this give no topics (`Ok(None)`).
    pub min_questions: usize,
}

impl Default for TopicOptions {
    fn default() -> Self {
        TopicOptions {
            k: None,
            seed: 1,
            min_questions: 1,
        }
    }
}

/// How a question was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// By the embeddings of the chunks it retrieved.
    Retrieval,
    /// By its words.
    Text,
}

impl Placement {
    /// `retrieval` or `text`.
    pub fn name(self) -> &'static str {
        match self {
            Placement::Retrieval => "retrieval",
            Placement::Text => "text",
        }
    }
}

/// One topic.
#[derive(Debug, Clone)]
pub struct Topic {
    /// 1-based, largest first.
    pub id: usize,
    /// Its most distinctive terms, joined.
    pub label: String,
    /// User questions (every occurrence).
    pub questions: usize,
    /// Distinct conversations.
    pub conversations: usize,
    /// Distinct users (with an email).
    pub users: usize,
    /// Share of all questions.
    pub share: f64,
    /// Questions per month (`YYYY-MM`).
    pub months: BTreeMap<String, usize>,
    /// Answers rated down among the rated ones; none when nothing was rated.
    pub negative_rate: Option<f64>,
    /// Rated answers.
    pub rated: usize,
    /// Most cited documents with the number of questions citing them.
    pub documents: Vec<(String, usize)>,
    /// The questions closest to the centre.
    pub examples: Vec<String>,
    /// Centre on the map.
    pub centre: (f32, f32),
}

/// A question's topic.
#[derive(Debug, Clone)]
pub struct Assignment {
    /// Index into [`TopicMap::questions`].
    pub question: usize,
    /// Index into [`TopicMap::topics`].
    pub topic: usize,
    /// 1 − cosine similarity to the topic's centre.
    pub distance: f32,
    /// How it was placed.
    pub placed_by: Placement,
}

/// The result.
#[derive(Debug, Clone)]
pub struct TopicMap {
    /// Topics, largest first.
    pub topics: Vec<Topic>,
    /// Every user question.
    pub questions: Vec<Question>,
    /// One per question, in the same order.
    pub assignments: Vec<Assignment>,
    /// Distinct question texts clustered.
    pub distinct: usize,
    /// Map positions of (a sample of) the distinct questions, with their topic.
    pub points: Vec<(f32, f32, usize)>,
    /// Whether retrieval vectors were used.
    pub by_retrieval: bool,
    /// Notes for the reader (dimensions left out, questions placed by text).
    pub notes: Vec<String>,
    /// The silhouette of the chosen k on the sample (how well separated topics are).
    pub silhouette: f64,
}

/// Fewest retrieval-placed distinct questions per topic for the retrieval space to be used.
const MIN_PER_TOPIC: usize = 3;

/// Opens `inputs`, narrows them to `restriction`, and finds their topics. `Ok(None)`: there
/// are no user questions.
pub async fn from_inputs(
    inputs: &[String],
    catalog: &CatalogOptions,
    restriction: &Restriction,
    o: &TopicOptions,
) -> Result<Option<TopicMap>> {
    let mut cat = Catalog::open(inputs, catalog).await?;
    let tables = [
        Table::Conversations,
        Table::Messages,
        Table::Contexts,
        Table::Chunks,
    ];
    cat.load(&tables.into_iter().collect()).await?;
    cat.restrict(restriction).await?;
    topics(&mut cat, o).await
}

/// Finds the topics of the questions the catalog holds. `Ok(None)`: there are no questions.
pub async fn topics(cat: &mut Catalog, o: &TopicOptions) -> Result<Option<TopicMap>> {
    match start(cat, o).await? {
        Some(pending) => pending.finish().await.map(Some),
        None => Ok(None),
    }
}

/// Loads the questions the catalog holds and starts clustering them on a thread of its own,
/// so that the caller can go on querying meanwhile (every report does). `Ok(None)`: there
/// are no questions.
pub async fn start(cat: &mut Catalog, o: &TopicOptions) -> Result<Option<PendingMap>> {
    let loaded = load::load(cat, o.seed).await?;
    let few = !loaded.has_documents && loaded.questions.len() < o.min_questions;
    if loaded.questions.is_empty() || few {
        return Ok(None);
    }
    let o = o.clone();
    Ok(Some(PendingMap(tokio::task::spawn_blocking(move || {
        build(loaded, &o)
    }))))
}

/// A clustering under way ([`start`]).
pub struct PendingMap(tokio::task::JoinHandle<Result<TopicMap>>);

impl PendingMap {
    /// Waits for the map.
    pub async fn finish(self) -> Result<TopicMap> {
        self.0
            .await
            .map_err(|e| Error::Internal(format!("topic task failed: {e}")))?
    }
}

/// The clustering of already loaded questions (see the module text): the distinct
/// questions are clustered in the space of the chunks they retrieved, or by their words;
/// every occurrence is placed; topics are numbered by size and described.
pub fn build(loaded: Loaded, o: &TopicOptions) -> Result<TopicMap> {
    let mut notes: Vec<String> = dims_note(&loaded.chunk_dims).into_iter().collect();
    let distinct = Distinct::of(&loaded.questions, &loaded.vectors);
    let n = distinct.texts.len();
    if let Some(k) = o.k {
        if k > n {
            return Err(Error::Usage(format!(
                "-k {k}: there are only {n} distinct question(s)"
            )));
        }
        if k == 0 {
            return Err(Error::Usage("-k takes at least 1".into()));
        }
    }
    let text_refs: Vec<&str> = distinct.texts.iter().map(String::as_str).collect();
    // On a handful of questions a term seen once still says something.
    let text_options = TextOptions {
        min_df: if n >= 50 { 2 } else { 1 },
        ..TextOptions::BEST
    };
    let (tf, vocab) = tfidf(&text_refs, text_options);
    let words = Words {
        sparse: SparseRows {
            rows: tf,
            dim: vocab.terms.len().max(1),
        },
        vocab,
        options: text_options,
    };
    let embedded: Vec<usize> = (0..n).filter(|&d| distinct.sums[d].is_some()).collect();
    let by_retrieval = embedded.len() >= (o.k.unwrap_or(2) * MIN_PER_TOPIC).max(6);
    if loaded.has_documents && !by_retrieval {
        notes.push(format!(
            "only {} distinct question(s) retrieved chunks of the document export: topics come \
             from the questions' words",
            embedded.len()
        ));
    }
    let clusters = if by_retrieval {
        by_retrieval_space(&loaded, &distinct, &words, embedded, o, &mut notes)
    } else {
        by_words(&words, n, o)?
    };
    let numbered = Numbered::of(clusters, &distinct, loaded.questions.len());
    let terms = class_labels(&text_refs, &numbered.labels(), numbered.k, 4);
    let profile = profiles(
        &numbered.place,
        &words.sparse,
        &numbered.centres,
        &numbered.rank,
    );
    let coords = pca2(&profile, numbered.k);
    let (topics, assignments) = describe(
        &loaded.questions,
        &numbered,
        &distinct,
        &terms,
        &coords,
        by_retrieval,
    );
    let points = map_points(&coords, &numbered.place, o.seed);
    Ok(TopicMap {
        topics,
        questions: loaded.questions,
        assignments,
        distinct: n,
        points,
        by_retrieval,
        notes,
        silhouette: numbered.silhouette,
    })
}

/// The note on chunk embeddings of several dimensions (only the first places questions).
fn dims_note(chunk_dims: &[(usize, usize)]) -> Option<String> {
    let [(d, _), rest @ ..] = chunk_dims else {
        return None;
    };
    if rest.is_empty() {
        return None;
    }
    let others: usize = rest.iter().map(|c| c.1).sum();
    Some(format!(
        "chunk embeddings of {} dimensions: the {d}-dimensional ones place questions; \
         {others} chunk(s) of other dimensions do not",
        chunk_dims
            .iter()
            .map(|c| c.0.to_string())
            .collect::<Vec<_>>()
            .join(" and ")
    ))
}

/// The distinct questions (by normalized text) and their occurrences.
struct Distinct {
    /// Each distinct question's text (its first occurrence's).
    texts: Vec<String>,
    /// The summed retrieval vector of all its occurrences, if any retrieved chunks.
    sums: Vec<Option<Vec<f32>>>,
    /// The distinct question of each occurrence.
    of_question: Vec<usize>,
    /// Each distinct question's first occurrence.
    first: Vec<usize>,
}

impl Distinct {
    fn of(questions: &[Question], vectors: &[Option<Vec<f32>>]) -> Distinct {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut d = Distinct {
            texts: Vec::new(),
            sums: Vec::new(),
            of_question: Vec::with_capacity(questions.len()),
            first: Vec::new(),
        };
        for (i, (q, v)) in questions.iter().zip(vectors).enumerate() {
            let key = normalize_question(&q.text);
            let at = *index.entry(key).or_insert_with(|| {
                d.texts.push(q.text.clone());
                d.sums.push(None);
                d.first.push(i);
                d.texts.len() - 1
            });
            if let Some(v) = v {
                let s = d.sums[at].get_or_insert_with(|| vec![0f32; DIM]);
                for (a, x) in s.iter_mut().zip(v) {
                    *a += x;
                }
            }
            d.of_question.push(at);
        }
        d
    }
}

/// The distinct questions' words: TF-IDF rows and the vocabulary.
struct Words {
    sparse: SparseRows,
    vocab: text::Vocabulary,
    options: TextOptions,
}

/// A clustering before topics are numbered.
struct Clusters {
    k: usize,
    silhouette: f64,
    /// Each distinct question's (cluster, similarity, placement).
    place: Vec<(usize, f32, Placement)>,
    /// Each occurrence's own cluster when it retrieved chunks itself.
    own: Vec<Option<(usize, f32)>>,
    centres: Centres,
}

/// Clusters the embedded distinct questions in the chunks' space and places the others by
/// their words (naive Bayes trained on the placed questions and the course's chunks).
fn by_retrieval_space(
    loaded: &Loaded,
    distinct: &Distinct,
    words: &Words,
    embedded: Vec<usize>,
    o: &TopicOptions,
    notes: &mut Vec<String>,
) -> Clusters {
    let n = distinct.texts.len();
    let sparse = &words.sparse;
    let mut data = Vec::with_capacity(embedded.len() * DIM);
    for &d in &embedded {
        let mut v = distinct.sums[d].clone().unwrap_or_else(|| vec![0f32; DIM]);
        normalize(&mut v);
        data.extend_from_slice(&v);
    }
    let dense = Dense { data, dim: DIM };
    let (k, silhouette) = choose_k(&dense, o);
    let c = kmeans(&dense, &fit_options(k, o.seed, dense.len()));
    let mut place = vec![(0, 0.0, Placement::Text); n];
    for (row, &d) in embedded.iter().enumerate() {
        place[d] = (c.labels[row], c.similarity[row], Placement::Retrieval);
    }
    // The others' similarity is to the topic's TF-IDF centroid of questions.
    let mut centroids = vec![vec![0f32; sparse.dim()]; k];
    for (row, &d) in embedded.iter().enumerate() {
        sparse.add_to(d, &mut centroids[c.labels[row]]);
    }
    for cen in &mut centroids {
        normalize(cen);
    }
    let mut rows: Vec<text::Sparse> = embedded.iter().map(|&d| sparse.rows[d].clone()).collect();
    let mut labels = c.labels.clone();
    for (i, t) in loaded.chunk_texts.iter().enumerate() {
        let mut v = loaded.chunk_vectors[i * DIM..(i + 1) * DIM].to_vec();
        normalize(&mut v);
        rows.push(text::vectorize_text(t, &words.vocab, words.options));
        labels.push(nearest(&v, &c.centres).0);
    }
    let bayes = NaiveBayes::train(&rows, &labels, k, sparse.dim);
    let mut by_text = 0;
    for (d, p) in place.iter_mut().enumerate() {
        if distinct.sums[d].is_none() {
            let t = bayes.classify(&sparse.rows[d]);
            *p = (t, sparse.dot(d, &centroids[t]), Placement::Text);
            by_text += 1;
        }
    }
    if by_text > 0 {
        notes.push(format!(
            "{by_text} of {n} distinct questions retrieved no known chunk and were placed \
             by their words"
        ));
    }
    // Each occurrence that retrieved chunks itself goes to the centre nearest its own
    // retrieval: the same words asked in two courses' contexts may be two topics.
    let own = loaded
        .vectors
        .iter()
        .map(|v| {
            v.as_ref().map(|v| {
                let mut v = v.clone();
                normalize(&mut v);
                nearest(&v, &c.centres)
            })
        })
        .collect();
    Clusters {
        k,
        silhouette,
        place,
        own,
        centres: Centres::Both(c.centres, centroids, dense, embedded),
    }
}

/// Clusters the distinct questions by their words, in the latent space of LSA (short
/// questions share few words); questions with no term left join the largest topic.
fn by_words(words: &Words, n: usize, o: &TopicOptions) -> Result<Clusters> {
    let sparse = &words.sparse;
    let rows: Vec<usize> = (0..n).filter(|&d| !sparse.rows[d].is_empty()).collect();
    if rows.is_empty() {
        return Err(Error::Usage(
            "the questions have no words to group them by (and no document export places \
             them)"
                .into(),
        ));
    }
    let sub = SparseRows {
        rows: rows.iter().map(|&d| sparse.rows[d].clone()).collect(),
        dim: sparse.dim,
    };
    let rank = (o.k.unwrap_or(12) * 3).clamp(10, 100);
    let latent = lsa::lsa(&sub, rank, o.seed);
    let (k, silhouette) = choose_k(&latent, o);
    let c = kmeans(&latent, &fit_options(k, o.seed, latent.len()));
    let big = largest(&c.labels, k);
    let mut place = vec![(big, 0.0, Placement::Text); n];
    for (row, &d) in rows.iter().enumerate() {
        place[d] = (c.labels[row], c.similarity[row], Placement::Text);
    }
    Ok(Clusters {
        k,
        silhouette,
        place,
        own: Vec::new(),
        centres: Centres::Latent(c.centres, latent, rows),
    })
}

/// Topics numbered by size, largest first (a cluster left empty is dropped), with every
/// occurrence's and distinct question's topic in that numbering.
struct Numbered {
    k: usize,
    silhouette: f64,
    /// Each occurrence's (cluster, similarity, placement), clusters as found.
    occurrence: Vec<(usize, f32, Placement)>,
    /// Each distinct question's (topic, similarity, placement), topics numbered.
    place: Vec<(usize, f32, Placement)>,
    /// The topic number of each cluster found, if not empty.
    rank: Vec<Option<usize>>,
    centres: Centres,
}

impl Numbered {
    fn of(c: Clusters, distinct: &Distinct, occurrences: usize) -> Numbered {
        let Clusters {
            k,
            silhouette,
            mut place,
            own,
            centres,
        } = c;
        let occurrence: Vec<(usize, f32, Placement)> = (0..occurrences)
            .map(|i| match own.get(i).copied().flatten() {
                Some((t, sim)) => (t, sim, Placement::Retrieval),
                None => place[distinct.of_question[i]],
            })
            .collect();
        let mut size = vec![0usize; k];
        for o in &occurrence {
            size[o.0] += 1;
        }
        let mut order: Vec<usize> = (0..k).filter(|&t| size[t] > 0).collect();
        order.sort_by(|&a, &b| size[b].cmp(&size[a]).then(a.cmp(&b)));
        let mut rank = vec![None; k];
        for (r, &t) in order.iter().enumerate() {
            rank[t] = Some(r);
        }
        // A distinct question whose occurrences all went elsewhere keeps its cluster's
        // place on the map only if that cluster has questions; else its first occurrence's.
        for (d, p) in place.iter_mut().enumerate() {
            if rank[p.0].is_none() {
                *p = occurrence[distinct.first[d]];
            }
            // Every occurrence's cluster has a rank (it has that occurrence).
            p.0 = rank[p.0].unwrap_or(0);
        }
        Numbered {
            k: order.len(),
            silhouette,
            occurrence,
            place,
            rank,
            centres,
        }
    }

    /// Each distinct question's topic.
    fn labels(&self) -> Vec<usize> {
        self.place.iter().map(|p| p.0).collect()
    }
}

/// The topics with their counts, documents, examples and centres, and every occurrence's
/// assignment.
fn describe(
    questions: &[Question],
    numbered: &Numbered,
    distinct: &Distinct,
    terms: &[Vec<String>],
    coords: &[(f32, f32)],
    by_retrieval: bool,
) -> (Vec<Topic>, Vec<Assignment>) {
    let k = numbered.k;
    let mut topics: Vec<Topic> = (0..k).map(|t| Topic::new(t, &terms[t])).collect();
    let mut convos: Vec<HashSet<&str>> = vec![HashSet::new(); k];
    let mut users: Vec<HashSet<String>> = vec![HashSet::new(); k];
    let mut down = vec![0usize; k];
    let mut docs: Vec<HashMap<&str, usize>> = vec![HashMap::new(); k];
    let mut assignments = Vec::with_capacity(questions.len());
    for (i, q) in questions.iter().enumerate() {
        let (t, sim, by) = numbered.occurrence[i];
        let t = numbered.rank[t].unwrap_or(0);
        let topic = &mut topics[t];
        topic.questions += 1;
        convos[t].insert(&q.convo_id);
        if let Some(u) = &q.user {
            users[t].insert(u.to_lowercase());
        }
        if let Some(m) = &q.month {
            *topic.months.entry(m.clone()).or_insert(0) += 1;
        }
        if let Some(p) = q.positive {
            topic.rated += 1;
            if !p {
                down[t] += 1;
            }
        }
        for d in &q.documents {
            *docs[t].entry(d).or_insert(0) += 1;
        }
        assignments.push(Assignment {
            question: i,
            topic: t,
            distance: (1.0 - sim).max(0.0),
            placed_by: by,
        });
    }
    let total = questions.len() as f64;
    let place = &numbered.place;
    for (t, topic) in topics.iter_mut().enumerate() {
        topic.conversations = convos[t].len();
        topic.users = users[t].len();
        topic.share = topic.questions as f64 / total;
        topic.negative_rate = (topic.rated > 0).then(|| down[t] as f64 / topic.rated as f64);
        let mut d: Vec<(String, usize)> =
            docs[t].iter().map(|(k, v)| (k.to_string(), *v)).collect();
        d.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        d.truncate(3);
        topic.documents = d;
        // Closest to the centre, retrieval-placed first (their similarity is in the space
        // the topic was found in).
        let mut members: Vec<usize> = (0..place.len()).filter(|&d| place[d].0 == t).collect();
        members.sort_by(|&a, &b| {
            let key = |d: usize| {
                (
                    place[d].2 != Placement::Retrieval && by_retrieval,
                    -place[d].1,
                )
            };
            key(a)
                .partial_cmp(&key(b))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.cmp(&b))
        });
        topic.examples = members
            .iter()
            .take(5)
            .map(|&d| distinct.texts[d].clone())
            .collect();
        let pts: Vec<&(f32, f32)> = members.iter().map(|&d| &coords[d]).collect();
        if !pts.is_empty() {
            let m = pts.len() as f32;
            topic.centre = (
                pts.iter().map(|p| p.0).sum::<f32>() / m,
                pts.iter().map(|p| p.1).sum::<f32>() / m,
            );
        }
    }
    (topics, assignments)
}

impl Topic {
    /// Topic `t` (0-based) labelled by its terms, before anything is counted.
    fn new(t: usize, terms: &[String]) -> Topic {
        Topic {
            id: t + 1,
            label: if terms.is_empty() {
                format!("topic {}", t + 1)
            } else {
                terms.join(", ")
            },
            questions: 0,
            conversations: 0,
            users: 0,
            share: 0.0,
            months: BTreeMap::new(),
            negative_rate: None,
            rated: 0,
            documents: Vec::new(),
            examples: Vec::new(),
            centre: (0.0, 0.0),
        }
    }
}

/// The map's points: at most 3,000 distinct questions (a seeded sample), with their topic.
fn map_points(
    coords: &[(f32, f32)],
    place: &[(usize, f32, Placement)],
    seed: u64,
) -> Vec<(f32, f32, usize)> {
    let n = coords.len();
    let mut ids: Vec<usize> = (0..n).collect();
    if n > 3000 {
        let mut rng = Rng::new(seed);
        for i in (1..n).rev() {
            ids.swap(i, rng.below(i + 1));
        }
        ids.truncate(3000);
        ids.sort_unstable();
    }
    ids.into_iter()
        .map(|d| (coords[d].0, coords[d].1, place[d].0))
        .collect()
}

fn largest(labels: &[usize], k: usize) -> usize {
    let mut size = vec![0usize; k];
    for &l in labels {
        size[l] += 1;
    }
    (0..k)
        .max_by_key(|&t| (size[t], std::cmp::Reverse(t)))
        .unwrap_or(0)
}

/// Eight restarts, four beyond 20,000 points (where one run is already stable).
fn fit_options(k: usize, seed: u64, n: usize) -> KMeansOptions {
    KMeansOptions {
        k,
        restarts: if n > 20_000 { 4 } else { 8 },
        plus_plus: true,
        seed,
        max_iter: 100,
    }
}

/// `-k`, or the k from 2 to 12 of best silhouette, clustering a sample of at most 1,000.
fn choose_k<P: Points>(p: &P, o: &TopicOptions) -> (usize, f64) {
    let n = p.len();
    let mut rng = Rng::new(o.seed);
    let mut sample: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        sample.swap(i, rng.below(i + 1));
    }
    sample.truncate(1000);
    sample.sort_unstable();
    let sub = Subset { p, rows: &sample };
    let all: Vec<usize> = (0..sample.len()).collect();
    let score = |k: usize| {
        let c: Clustering = kmeans(
            &sub,
            &KMeansOptions {
                restarts: 4,
                ..fit_options(k, o.seed, sample.len())
            },
        );
        silhouette(&sub, &c.labels, k, &all)
    };
    if let Some(k) = o.k {
        return (k, if k > 1 { score(k) } else { 0.0 });
    }
    let top = 12.min(n / 3).max(2).min(n);
    (2..=top).map(|k| (k, score(k))).fold(
        (2.min(n), f64::MIN),
        |best, c| if c.1 > best.1 { c } else { best },
    )
}

/// A subset of points, by row number.
struct Subset<'a, P: Points> {
    p: &'a P,
    rows: &'a [usize],
}

impl<P: Points> Points for Subset<'_, P> {
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn dim(&self) -> usize {
        self.p.dim()
    }
    fn dot(&self, i: usize, c: &[f32]) -> f32 {
        self.p.dot(self.rows[i], c)
    }
    fn add_to(&self, i: usize, acc: &mut [f32]) {
        self.p.add_to(self.rows[i], acc)
    }
    fn dot_points(&self, i: usize, j: usize) -> f32 {
        self.p.dot_points(self.rows[i], self.rows[j])
    }
}
