//! JSON APIs read through a jq filter (jaq, a jq in Rust): what the filter
//! yields is either a list of items, tracked like a feed's, or one document,
//! tracked like a page's text.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data};
use jaq_json::Val;
use serde_json::{Map, Value};
use url::Url;

use super::identity::{Fields, assign_keys};
use super::{Item, dates};
use crate::text;

/// How long a filter may run on one document. A filter is code the user
/// wrote, but the document is someone else's: a filter that recurses over
/// a deep or huge document must not hold up the poll.
const DEADLINE: Duration = Duration::from_secs(5);

/// A filter past its deadline cannot be stopped, only left to finish. While
/// this many are still running, no other filter is started, so a filter
/// that never ends costs a core or two, not one more thread every poll.
const MAX_OVERDUE: usize = 2;
static OVERDUE: AtomicUsize = AtomicUsize::new(0);

/// The most JSON text a filter may yield, all outputs together.
const MAX_OUTPUT: usize = 16 << 20;

/// Filters that reach outside the document: the process's environment
/// (which may hold secrets), its standard error, and `halt`, which would
/// end the process. A filter naming one does not compile.
const DENIED: [&str; 8] = [
    "env",
    "halt",
    "halt_error",
    "stderr",
    "stderr_empty",
    "debug",
    "debug_empty",
    "input",
];

/// Why a filter does not compile: jaq's message and where in the filter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at offset {offset} of the filter")]
pub struct CompileError {
    /// Byte offset in the filter text.
    pub offset: usize,
    pub message: String,
}

/// Why a document could not be read through its filter.
#[derive(Debug, thiserror::Error)]
pub enum JqError {
    #[error("the response is not JSON: {0}")]
    NotJson(String),
    #[error("the jq filter does not compile: {0}")]
    Compile(#[from] CompileError),
    #[error("the jq filter failed on this document: {0}")]
    Runtime(String),
    #[error("the jq filter ran longer than {} s on this document", DEADLINE.as_secs())]
    TimedOut,
    #[error("the jq filter yielded more than {} MiB of JSON", MAX_OUTPUT >> 20)]
    TooLarge,
    #[error("the jq filter yielded a value that is not JSON: {0}")]
    NotJsonOutput(String),
    #[error("the jq filter stopped unexpectedly ({0})")]
    Panicked(String),
    #[error(
        "not run: {MAX_OVERDUE} jq filters that ran past their deadline in earlier polls are still running"
    )]
    Busy,
}

/// What a filter made of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Yield {
    /// Every output was an object with an `id` (or `key`) and a `title`.
    Items(Vec<Item>),
    /// Anything else: the outputs, pretty-printed with sorted keys.
    Document(String),
}

/// Checks that `code` compiles, as `validate` does.
pub fn check(code: &str) -> Result<(), CompileError> {
    let arena = Arena::default();
    compile(&arena, code).map(drop)
}

/// Runs `code` on the JSON `body`, within the deadline and output limit.
pub fn read(body: &[u8], code: &str, base: Option<&Url>) -> Result<Yield, JqError> {
    let outputs = run(body.to_vec(), code.to_string())?;
    Ok(interpret(outputs, base))
}

type Filter = jaq_core::Filter<data::JustLut<Val>>;

fn compile<'a>(arena: &'a Arena, code: &'a str) -> Result<Filter, CompileError> {
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs())
        .filter(|def| !DENIED.contains(&def.name));
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs())
        .filter(|(name, _, _)| !DENIED.contains(name));
    let loader = Loader::new(defs);
    let program = File { code, path: () };
    let modules = loader
        .load(arena, program)
        .map_err(|errors| load_error(code, errors))?;
    Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errors| {
            let first = errors.into_iter().flat_map(|(_, e)| e).next();
            match first {
                Some((name, undefined)) => CompileError {
                    offset: offset(code, name),
                    message: format!("undefined {} `{name}`", undefined.as_str()),
                },
                None => unknown(),
            }
        })
}

fn unknown() -> CompileError {
    CompileError {
        offset: 0,
        message: "the filter does not compile".into(),
    }
}

fn load_error(code: &str, errors: jaq_core::load::Errors<&str, ()>) -> CompileError {
    use jaq_core::load::Error;
    let Some((_, error)) = errors.into_iter().next() else {
        return unknown();
    };
    let (expected, at) = match error {
        Error::Io(list) => match list.into_iter().next() {
            Some((path, why)) => return at_start(format!("cannot load `{path}`: {why}")),
            None => return unknown(),
        },
        Error::Lex(list) => match list.into_iter().next() {
            Some((expect, at)) => (expect.as_str().to_string(), at),
            None => return unknown(),
        },
        Error::Parse(list) => match list.into_iter().next() {
            Some((expect, at)) => (expect.as_str().to_string(), at),
            None => return unknown(),
        },
    };
    let found = match at.chars().next() {
        None => "the end of the filter".to_string(),
        Some(_) => format!("`{}`", at.split_whitespace().next().unwrap_or(at)),
    };
    CompileError {
        offset: offset(code, at),
        message: format!("expected {expected}, found {found}"),
    }
}

fn at_start(message: String) -> CompileError {
    CompileError { offset: 0, message }
}

/// Where `part`, a slice of `code`, starts in it.
fn offset(code: &str, part: &str) -> usize {
    let (start, end) = (code.as_ptr() as usize, part.as_ptr() as usize);
    end.checked_sub(start)
        .filter(|o| *o <= code.len())
        .unwrap_or(0)
}

/// Runs the filter on its own thread: a filter stuck inside one output
/// cannot be interrupted, so the poll stops waiting at the deadline and
/// the thread is left to finish on its own.
fn run(body: Vec<u8>, code: String) -> Result<Vec<Value>, JqError> {
    if OVERDUE.load(Ordering::Acquire) >= MAX_OVERDUE {
        return Err(JqError::Busy);
    }
    let (tx, rx) = mpsc::channel();
    let deadline = Instant::now() + DEADLINE;
    let run = Arc::new(Run(AtomicU8::new(RUNNING)));
    let ours = Arc::clone(&run);
    std::thread::Builder::new()
        .name("jq".into())
        .spawn(move || {
            let outcome = std::panic::catch_unwind(|| evaluate(&body, &code, deadline))
                .unwrap_or_else(|panic| Err(JqError::Panicked(panic_text(&panic))));
            ours.finish();
            // The poll may have stopped waiting; then nobody needs the answer.
            let _ = tx.send(outcome);
        })
        .map_err(|e| JqError::Panicked(e.to_string()))?;
    let wait = deadline.saturating_duration_since(Instant::now());
    match rx.recv_timeout(wait) {
        Ok(outcome) => outcome,
        Err(_) if run.abandon() => Err(JqError::TimedOut),
        // It finished just as the wait ended.
        Err(_) => rx.recv().unwrap_or(Err(JqError::TimedOut)),
    }
}

const RUNNING: u8 = 0;
const FINISHED: u8 = 1;
const ABANDONED: u8 = 2;

/// One filter's thread: running, finished, or left running past its
/// deadline (then counted in [`OVERDUE`] until it ends).
struct Run(AtomicU8);

impl Run {
    fn finish(&self) {
        let was = self.0.swap(FINISHED, Ordering::AcqRel);
        if was == ABANDONED {
            OVERDUE.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// True when the thread was still running and is now counted overdue.
    fn abandon(&self) -> bool {
        // Counted first, so the thread's `finish` never uncounts it before.
        OVERDUE.fetch_add(1, Ordering::AcqRel);
        let swapped =
            self.0
                .compare_exchange(RUNNING, ABANDONED, Ordering::AcqRel, Ordering::Acquire);
        if swapped.is_err() {
            OVERDUE.fetch_sub(1, Ordering::AcqRel);
        }
        swapped.is_ok()
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

fn evaluate(body: &[u8], code: &str, deadline: Instant) -> Result<Vec<Value>, JqError> {
    let input = jaq_json::read::parse_single(body).map_err(|e| JqError::NotJson(e.to_string()))?;
    let arena = Arena::default();
    let filter = compile(&arena, code)?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
    let mut outputs = Vec::new();
    let mut size = 0;
    for out in filter.id.run((ctx, input)) {
        if Instant::now() > deadline {
            return Err(JqError::TimedOut);
        }
        let val = out.map_err(|e| match e.get_err() {
            Ok(error) => JqError::Runtime(error.to_string()),
            Err(_) => JqError::Runtime("the filter stopped early".into()),
        })?;
        let json = val.to_string();
        size += json.len();
        if size > MAX_OUTPUT {
            return Err(JqError::TooLarge);
        }
        let value = serde_json::from_str(&json).map_err(|_| JqError::NotJsonOutput(json))?;
        outputs.push(value);
    }
    Ok(outputs)
}

fn interpret(outputs: Vec<Value>, base: Option<&Url>) -> Yield {
    let candidates: &[Value] = match outputs.as_slice() {
        [Value::Array(list)] if !list.is_empty() => list,
        _ => &outputs,
    };
    let objects: Option<Vec<&Map<String, Value>>> = candidates
        .iter()
        .map(|v| v.as_object().filter(|o| is_item(o)))
        .collect();
    match objects {
        Some(objects) if !candidates.is_empty() => Yield::Items(assign_keys(
            objects.into_iter().map(|o| fields(o, base)).collect(),
        )),
        _ if outputs.is_empty() => Yield::Items(Vec::new()),
        _ => Yield::Document(document(outputs)),
    }
}

fn is_item(o: &Map<String, Value>) -> bool {
    !identity(o).is_empty() && o.get("title").is_some_and(Value::is_string)
}

fn identity(o: &Map<String, Value>) -> String {
    ["id", "key"]
        .iter()
        .filter_map(|k| match o.get(*k) {
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
        .find(|s| !s.is_empty())
        .unwrap_or_default()
}

fn string(o: &Map<String, Value>, key: &str) -> String {
    match o.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn fields(o: &Map<String, Value>, base: Option<&Url>) -> Fields {
    let link = string(o, "link");
    let link = match base.and_then(|b| b.join(link.trim()).ok()) {
        Some(url) if !link.trim().is_empty() => url.to_string(),
        _ => link.trim().to_string(),
    };
    Fields {
        guid: identity(o),
        item: Item {
            key: String::new(),
            title: text::single_line(&string(o, "title")),
            link,
            published: dates::parse(&string(o, "published")),
            updated: None,
            author: String::new(),
            summary: text::html_to_text(&string(o, "summary")),
            content: text::html_to_text(&string(o, "content")),
            enclosure: None,
        },
    }
}

/// Each output pretty-printed with its keys sorted, so a document's text
/// changes only when its data does.
fn document(outputs: Vec<Value>) -> String {
    let texts: Vec<String> = outputs
        .into_iter()
        .map(|v| serde_json::to_string_pretty(&sorted(v)).unwrap_or_default())
        .collect();
    texts.join("\n")
}

fn sorted(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(list) => Value::Array(list.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yields(body: &str, code: &str) -> Yield {
        read(body.as_bytes(), code, None).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn objects_with_an_id_and_a_title_are_items() {
        let body = r#"{"data": [{"id": 7, "title": "A", "url": "https://e.org/a",
                                  "body": "<p>Text</p>", "date": "2025-02-04T09:00:00Z"}]}"#;
        let code = ".data[] | {id, title, link: .url, content: .body, published: .date}";
        let Yield::Items(items) = yields(body, code) else {
            panic!("not items");
        };
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].key, "7");
        assert_eq!(items[0].content, "Text");
        assert!(items[0].published.is_some());
    }

    #[test]
    fn anything_else_is_one_document_with_sorted_keys() {
        let Yield::Document(text) = yields(r#"{"b": 1, "a": {"d": 2, "c": 3}}"#, ".") else {
            panic!("not a document");
        };
        assert_eq!(
            text,
            "{\n  \"a\": {\n    \"c\": 3,\n    \"d\": 2\n  },\n  \"b\": 1\n}"
        );
    }

    #[test]
    fn compile_errors_say_where() {
        let e = check(".a | map(.b").err();
        assert!(
            e.as_ref().is_some_and(|e| e.message.contains("expected")),
            "{e:?}"
        );
        let e = check(".a | nosuch(1)").err();
        assert_eq!(e.map(|e| e.offset), Some(5));
        for denied in ["env", "$ENV", "halt", "halt_error(1)", "debug", "stderr"] {
            assert!(check(denied).is_err(), "{denied}");
        }
        assert!(check(".[] | select(.x > 1) | {id, title}").is_ok());
    }

    #[test]
    fn runtime_errors_and_bad_bodies_are_errors() {
        assert!(matches!(
            read(b"{\"a\": 1}", ".a[]", None),
            Err(JqError::Runtime(_))
        ));
        assert!(matches!(
            read(b"<html>", ".", None),
            Err(JqError::NotJson(_))
        ));
        assert!(matches!(
            read(b"{}", "def f: f; f", None),
            Err(JqError::TimedOut)
        ));
    }
}
