//! Exports with planted topics, for scoring `chatql topics` and timing it: questions made
//! from topic-specific vocabulary in shared templates (with words of other topics mixed in),
//! a document export whose chunk embeddings cluster around one random direction per topic,
//! and noisy retrieval (part of each question's contexts from other topics; some questions
//! with none). The planted topic of every question is returned.

use std::io::{self, Write};

use serde_json::{json, Value};

use super::Rng;

const VOCAB: [&[&str]; 12] = [
    &[
        "latch",
        "flip-flop",
        "clock",
        "register",
        "edge",
        "setup",
        "hold",
        "sequential",
        "counter",
        "state",
    ],
    &[
        "resistor",
        "voltage",
        "current",
        "thevenin",
        "norton",
        "mesh",
        "node",
        "ohm",
        "kirchhoff",
        "impedance",
    ],
    &[
        "pointer",
        "array",
        "recursion",
        "loop",
        "function",
        "compiler",
        "variable",
        "stack",
        "heap",
        "segfault",
    ],
    &[
        "entropy",
        "heat",
        "temperature",
        "engine",
        "carnot",
        "enthalpy",
        "pressure",
        "gas",
        "energy",
        "cycle",
    ],
    &[
        "force",
        "momentum",
        "velocity",
        "acceleration",
        "torque",
        "friction",
        "newton",
        "mass",
        "energy",
        "collision",
    ],
    &[
        "probability",
        "variance",
        "distribution",
        "expectation",
        "bayes",
        "random",
        "gaussian",
        "sample",
        "independence",
        "conditional",
    ],
    &[
        "deadline",
        "exam",
        "grade",
        "homework",
        "extension",
        "office",
        "syllabus",
        "quiz",
        "regrade",
        "lab",
    ],
    &[
        "matrix",
        "eigenvalue",
        "vector",
        "determinant",
        "basis",
        "rank",
        "span",
        "inverse",
        "transpose",
        "orthogonal",
    ],
    &[
        "packet",
        "router",
        "tcp",
        "latency",
        "bandwidth",
        "protocol",
        "socket",
        "ip",
        "congestion",
        "throughput",
    ],
    &[
        "molecule",
        "bond",
        "reaction",
        "electron",
        "orbital",
        "acid",
        "base",
        "equilibrium",
        "mole",
        "oxidation",
    ],
    &[
        "cell",
        "protein",
        "gene",
        "dna",
        "enzyme",
        "membrane",
        "mitosis",
        "rna",
        "evolution",
        "organism",
    ],
    &[
        "query",
        "index",
        "join",
        "transaction",
        "table",
        "schema",
        "sql",
        "normalization",
        "key",
        "lock",
    ],
];

const SHARED: &[&str] = &[
    "lecture", "problem", "slide", "formula", "concept", "answer", "week", "notes",
];

const TEMPLATES: &[&str] = &[
    "What is {a}?",
    "How does {a} affect {b}?",
    "Can you explain {a} and {b}?",
    "Why is {a} important for {b}",
    "I am confused about {a} in lecture {n}",
    "What's the difference between {a} and {b}?",
    "How do I compute {a} from {b} and {c}?",
    "Is {a} related to {b}?",
    "Help with {a} problem {n}",
    "{a} vs {b}?",
];

/// What to plant.
#[derive(Debug, Clone)]
pub struct Planted {
    /// Topics (at most 12).
    pub topics: usize,
    /// User questions.
    pub questions: usize,
    /// Chunks per topic in the document export.
    pub chunks_per_topic: usize,
    /// Contexts of a question that has contexts.
    pub contexts: usize,
    /// Share of a question's contexts drawn from other topics.
    pub off_topic: f64,
    /// Share of questions with no contexts.
    pub no_context: f64,
    /// Embedding dimensions.
    pub dims: usize,
    /// Seed.
    pub seed: u64,
}

fn word(rng: &mut Rng, topic: usize, topics: usize) -> &'static str {
    let x = rng.float(0.0, 1.0);
    if x < 0.8 {
        VOCAB[topic][rng.below(10) as usize]
    } else if x < 0.9 {
        SHARED[rng.below(SHARED.len() as u64) as usize]
    } else {
        VOCAB[rng.below(topics as u64) as usize][rng.below(10) as usize]
    }
}

fn unit(v: &mut [f64]) {
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    for x in v {
        *x /= n;
    }
}

fn normal(rng: &mut Rng) -> f64 {
    let u = rng.float(1e-12, 1.0);
    let v = rng.float(0.0, 1.0);
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// Writes the conversations and documents; returns (convo_id, question message_index,
/// planted topic) per question.
pub fn write_planted(
    convos: &mut dyn Write,
    docs: &mut dyn Write,
    p: &Planted,
) -> io::Result<Vec<(String, i32, usize)>> {
    let mut rng = Rng::new(p.seed);
    let course = "PLANT101";
    // Chunks: text and embedding around the topic's direction.
    let mut chunks: Vec<Vec<(String, String)>> = vec![Vec::new(); p.topics];
    for t in 0..p.topics {
        let mut centre: Vec<f64> = (0..p.dims).map(|_| normal(&mut rng)).collect();
        unit(&mut centre);
        let per_doc = 6;
        for d in 0..p.chunks_per_topic.div_ceil(per_doc) {
            let path = format!("courses/{course}/t{t}-d{d}.pdf");
            let name = format!("{}-notes-{d}.pdf", VOCAB[t][0]);
            let mut line = format!(
                "{{\"id\":{},\"created_at\":\"2024-01-05T10:00:00+00:00\",\"s3_path\":{},\
                 \"readable_filename\":{},\"course_name\":\"{course}\",\"url\":\"\",\"contexts\":[",
                1000 + t * 1000 + d,
                Value::from(path.clone()),
                Value::from(name.clone())
            );
            let n = per_doc.min(p.chunks_per_topic - d * per_doc);
            for c in 0..n {
                let words: Vec<&str> = (0..20).map(|_| word(&mut rng, t, p.topics)).collect();
                let text = format!("Section {t}.{d}.{c}: {}.", words.join(" "));
                // Noise of about the centre's length: chunks sit ~0.7 cosine from it.
                let sigma = 1.0 / (p.dims as f64).sqrt();
                let mut e: Vec<f64> = centre
                    .iter()
                    .map(|x| x + sigma * normal(&mut rng))
                    .collect();
                unit(&mut e);
                if c > 0 {
                    line.push(',');
                }
                line.push_str(&format!(
                    "{{\"text\":{},\"embedding\":[",
                    Value::from(text.clone())
                ));
                for (i, x) in e.iter().enumerate() {
                    if i > 0 {
                        line.push(',');
                    }
                    line.push_str(&format!("{x:.7}"));
                }
                line.push_str(&format!("],\"pagenumber\":{},\"chunk_index\":{c}}}", 1 + c));
                chunks[t].push((text, path.clone()));
            }
            line.push_str("],\"base_url\":\"\"}\n");
            docs.write_all(line.as_bytes())?;
        }
    }
    // Conversations of one to three questions, each question's topic drawn anew.
    let mut truth = Vec::new();
    let mut n = 0usize;
    let mut convo_no = 0usize;
    while n < p.questions {
        let turns = (1 + rng.below(3) as usize).min(p.questions - n);
        let id = format!("p{convo_no:06}");
        let mut messages = Vec::new();
        for turn in 0..turns {
            let t = rng.below(p.topics as u64) as usize;
            let tpl = TEMPLATES[rng.below(TEMPLATES.len() as u64) as usize];
            let text = tpl
                .replace("{a}", word(&mut rng, t, p.topics))
                .replace("{b}", word(&mut rng, t, p.topics))
                .replace("{c}", word(&mut rng, t, p.topics))
                .replace("{n}", &(1 + rng.below(30)).to_string());
            let mut ctx = Vec::new();
            if !rng.chance(p.no_context) {
                for _ in 0..p.contexts {
                    let from = if rng.chance(p.off_topic) {
                        rng.below(p.topics as u64) as usize
                    } else {
                        t
                    };
                    let (text, path) = &chunks[from][rng.below(chunks[from].len() as u64) as usize];
                    ctx.push(
                        json!({"text": text, "readable_filename": path.rsplit('/').next(),
                                    "course_name ": course, "s3_path": path, "pagenumber": 1,
                                    "url": "", "base_url": ""}),
                    );
                }
            }
            messages.push(json!({"role": "user", "content": text, "contexts": ctx}));
            let mut answer =
                json!({"role": "assistant", "content": format!("About {}.", VOCAB[t][0])});
            if rng.chance(0.3) {
                answer["feedback"] =
                    json!({"isPositive": rng.chance(0.6), "category": null, "details": null});
            }
            messages.push(answer);
            truth.push((id.clone(), (turn * 2) as i32, t));
        }
        let created = format!(
            "2024-{:02}-{:02}T{:02}:00:00+00:00",
            1 + convo_no % 6,
            1 + convo_no % 28,
            convo_no % 24
        );
        let convo = json!({"id": id, "name": "chat", "messages": messages,
                           "model": {"id": "gpt-4o", "name": "GPT-4o"}, "prompt": "", "temperature": 0.1,
                           "folderId": null});
        let row = json!({"id": convo_no + 1, "created_at": created, "convo": convo, "convo_id": id,
                         "course_name": course,
                         "user_email": format!("s{}@illinois.edu", convo_no % 97)});
        convos.write_all(row.to_string().as_bytes())?;
        convos.write_all(b"\n")?;
        n += turns;
        convo_no += 1;
    }
    Ok(truth)
}
