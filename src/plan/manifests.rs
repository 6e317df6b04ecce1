//! The manifests a plan is made for, as `kubectl apply -f` reads them: a file, every
//! `.yaml`, `.yml` and `.json` file of a directory (not its subdirectories, as kubectl
//! without `-R`), or standard input (`-`); multi-document YAML, and `List`s.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::{Error, Result};

/// One document of one input, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The file (`-` for standard input).
    pub file: String,
    /// 1-based, in the file (items of a List count as one document each).
    pub index: usize,
    pub value: Value,
}

impl Document {
    /// `file (document N)`, for messages.
    pub fn source(&self) -> String {
        format!("{} (document {})", self.file, self.index)
    }

    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or_default()
    }

    pub fn api_version(&self) -> &str {
        self.value["apiVersion"].as_str().unwrap_or_default()
    }
}

/// Reads every document of `inputs`, each a file, a directory or `-`; `stdin` is what `-`
/// reads.
pub fn read(
    inputs: &[String],
    stdin: impl FnOnce() -> std::io::Result<String>,
) -> Result<Vec<Document>> {
    let mut documents = Vec::new();
    let mut stdin = Some(stdin);
    for input in inputs {
        if input == "-" {
            let read = stdin
                .take()
                .ok_or_else(|| Error::Config("-f - may be given once".into()))?;
            let text =
                read().map_err(|e| Error::Config(format!("cannot read standard input: {e}")))?;
            documents.extend(parse("-", &text)?);
            continue;
        }
        for file in files(Path::new(input))? {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Error::Config(format!("cannot read {}: {e}", file.display())))?;
            documents.extend(parse(&file.display().to_string(), &text)?);
        }
    }
    Ok(documents)
}

/// The file itself, or a directory's manifest files in name order.
fn files(path: &Path) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| ["yaml", "yml", "json"].contains(&e))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The documents of one file: empty documents skipped, `List` items unpacked.
pub fn parse(file: &str, text: &str) -> Result<Vec<Document>> {
    let mut documents = Vec::new();
    for (n, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(doc).map_err(|e| {
            Error::Config(format!(
                "{file} (document {}): not YAML or JSON: {e}",
                n + 1
            ))
        })?;
        if value.is_null() {
            continue;
        }
        if !value.is_object() {
            return Err(Error::Config(format!(
                "{file} (document {}): expected an object with apiVersion and kind",
                n + 1
            )));
        }
        let items = match (value["kind"].as_str(), value["items"].as_array()) {
            (Some(kind), Some(items)) if kind.ends_with("List") => items.clone(),
            _ => vec![value],
        };
        for item in items {
            documents.push(Document {
                file: file.to_string(),
                index: documents.len() + 1,
                value: item,
            });
        }
    }
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_numbered_in_their_file_and_lists_are_unpacked() {
        let text = "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: kvs-operator.dev/v1alpha1, kind: VideoStream, metadata: {name: x}}\n- {apiVersion: kvs-operator.dev/v1alpha1, kind: SignalingChannel, metadata: {name: y}}\n";
        let docs = parse("cams.yaml", text).expect("parses");
        let kinds: Vec<&str> = docs.iter().map(Document::kind).collect();
        assert_eq!(kinds, ["Namespace", "VideoStream", "SignalingChannel"]);
        assert_eq!(docs[2].source(), "cams.yaml (document 3)");
    }

    #[test]
    fn a_document_that_is_not_an_object_names_its_file_and_number() {
        let error = parse("bad.yaml", "apiVersion: v1\nkind: X\n---\n- a\n- b\n").unwrap_err();
        assert!(
            error.to_string().contains("bad.yaml (document 2)"),
            "{error}"
        );
        let error = parse("bad.yaml", "a: [unclosed\n").unwrap_err();
        assert!(
            error.to_string().contains("bad.yaml (document 1)"),
            "{error}"
        );
    }

    #[test]
    fn a_directory_is_its_manifest_files_in_order_and_dash_is_stdin() {
        let dir = std::env::temp_dir().join(format!("kvs-plan-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("nested")).expect("dir");
        std::fs::write(dir.join("b.yaml"), "kind: B\n").expect("write");
        std::fs::write(dir.join("a.json"), "{\"kind\": \"A\"}").expect("write");
        std::fs::write(dir.join("notes.txt"), "kind: C\n").expect("write");
        std::fs::write(dir.join("nested/c.yaml"), "kind: D\n").expect("write");
        let inputs = [dir.display().to_string(), "-".to_string()];
        let docs = read(&inputs, || Ok("kind: E\n".to_string())).expect("reads");
        let kinds: Vec<&str> = docs.iter().map(Document::kind).collect();
        assert_eq!(kinds, ["A", "B", "E"]);
        assert_eq!(docs[2].file, "-");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
