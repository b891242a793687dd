//! How question texts are compared: two questions are the same when they are equal after
//! lower-casing, collapsing whitespace and dropping final punctuation ("What is a latch?" and
//! "what is a  LATCH"). DPO pairs and topic deduplication both match on this.

/// The text questions are matched on.
pub fn normalize_question(q: &str) -> String {
    let words: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
    words
        .join(" ")
        .trim_end_matches(|ch: char| ch.is_ascii_punctuation() || ch.is_whitespace())
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::normalize_question;

    #[test]
    fn questions_match_across_case_spacing_and_final_punctuation() {
        assert_eq!(normalize_question("  What is a LATCH? "), "what is a latch");
        assert_eq!(normalize_question("what is\na   latch"), "what is a latch");
        assert_eq!(normalize_question("Why?!"), "why");
        assert_ne!(
            normalize_question("What is a latch"),
            normalize_question("What is a flip-flop")
        );
    }
}
