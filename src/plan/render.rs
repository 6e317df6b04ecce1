//! A plan as people read it (one block per object, one line per call, destructive calls
//! marked) and as CI reads it (`-o json`).

use std::fmt::Write;

use serde::Serialize;

use super::{Entry, Plan, Verdict};

/// The JSON report: the plan, a summary, and the exit code it leads to.
pub fn json(plan: &Plan) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Report<'a> {
        #[serde(flatten)]
        plan: &'a Plan,
        summary: Summary,
        exit_code: u8,
    }
    let report = Report {
        plan,
        summary: Summary::of(plan),
        exit_code: plan.exit_code(),
    };
    serde_json::to_string_pretty(&report).unwrap_or_default()
}

/// Counts for the last line.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub objects: usize,
    pub calls: usize,
    pub destructive: usize,
    pub changing: usize,
    pub refused: usize,
    pub in_sync: usize,
    pub errors: usize,
}

impl Summary {
    pub fn of(plan: &Plan) -> Self {
        let mut summary = Summary {
            objects: plan.objects.len(),
            ..Summary::default()
        };
        for entry in &plan.objects {
            summary.calls += entry.calls.len();
            summary.destructive += usize::from(entry.is_destructive());
            match entry.verdict {
                Verdict::Changes => summary.changing += 1,
                Verdict::Refused => summary.refused += 1,
                Verdict::InSync | Verdict::ObserveOnly => summary.in_sync += 1,
                Verdict::Error => summary.errors += 1,
            }
        }
        summary
    }
}

/// The text report.
pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    for entry in &plan.objects {
        block(&mut out, entry);
    }
    for ignored in &plan.ignored {
        let _ = writeln!(out, "ignored: {ignored}: not a kvs-operator.dev kind");
    }
    let s = Summary::of(plan);
    let _ = writeln!(
        out,
        "Plan: {} call(s) on {} object(s), {} destructive; {} refused, {} in sync, {} error(s).",
        s.calls, s.changing, s.destructive, s.refused, s.in_sync, s.errors
    );
    out
}

fn block(out: &mut String, entry: &Entry) {
    let resource = entry
        .resource
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    let prune = if entry.action == "prune" {
        " — deleted from the manifests (prune)"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "{} {}/{}{resource}{prune}   [{}]",
        entry.kind, entry.namespace, entry.name, entry.source
    );
    for call in &entry.calls {
        let mark = if call.destructive.is_some() { "!" } else { "~" };
        let changes: Vec<String> = call
            .changes
            .iter()
            .map(|c| match (&c.from, &c.to) {
                (None, Some(to)) => format!("{}: {to}", c.field),
                (Some(from), None) => format!("{}: {from} -> (removed)", c.field),
                (Some(from), Some(to)) => format!("{}: {from} -> {to}", c.field),
                (None, None) => c.field.clone(),
            })
            .collect();
        let _ = writeln!(
            out,
            "  {mark} {:<34} {}",
            call.operation,
            changes.join(", ")
        );
        if let Some(why) = &call.destructive {
            let _ = writeln!(out, "      DESTRUCTIVE: {why}");
        }
    }
    for wait in &entry.waits {
        let _ = writeln!(out, "    (waits for {wait})");
    }
    let verdict = match entry.verdict {
        Verdict::InSync => Some("no changes".to_string()),
        Verdict::Refused => Some(format!(
            "REFUSED ({}): {}",
            entry.reason.as_deref().unwrap_or_default(),
            entry.message.as_deref().unwrap_or_default()
        )),
        Verdict::Error => Some(format!(
            "ERROR: {}",
            entry.message.as_deref().unwrap_or_default()
        )),
        Verdict::Changes | Verdict::ObserveOnly => entry.message.clone(),
    };
    if let Some(verdict) = verdict {
        let _ = writeln!(out, "  {verdict}");
    }
    if entry.reason.as_deref() == Some("NotOwned") {
        let _ = writeln!(
            out,
            "      DESTRUCTIVE: the manifest names a resource that exists and is not ours"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::steps::{Call, Change};

    fn entry(verdict: Verdict, calls: Vec<Call>) -> Entry {
        let mut entry = Entry::new(
            "VideoStream",
            "cameras",
            "door",
            "cams.yaml (document 1)".into(),
            "apply",
        );
        entry.resource = Some("stream door-cam".into());
        entry.verdict = verdict;
        entry.calls = calls;
        entry
    }

    fn decrease() -> Call {
        Call {
            operation: "UpdateDataRetention",
            changes: vec![Change {
                field: "dataRetentionInHours".into(),
                from: Some("48".into()),
                to: Some("24".into()),
            }],
            destructive: Some("drops up to 24h".into()),
        }
    }

    #[test]
    fn a_destructive_call_is_marked_and_counted() {
        let plan = Plan {
            objects: vec![
                entry(Verdict::Changes, vec![decrease()]),
                entry(Verdict::InSync, vec![]),
            ],
            ignored: vec!["cams.yaml (document 3) (Namespace)".into()],
        };
        let text = text(&plan);
        assert!(
            text.contains("VideoStream cameras/door (stream door-cam)   [cams.yaml (document 1)]"),
            "{text}"
        );
        assert!(text.contains("  ! UpdateDataRetention"), "{text}");
        assert!(text.contains("dataRetentionInHours: 48 -> 24"), "{text}");
        assert!(text.contains("DESTRUCTIVE: drops up to 24h"), "{text}");
        assert!(text.contains("  no changes"), "{text}");
        assert!(
            text.contains("ignored: cams.yaml (document 3) (Namespace)"),
            "{text}"
        );
        assert!(
            text.ends_with(
                "Plan: 1 call(s) on 1 object(s), 1 destructive; 0 refused, 1 in sync, 0 error(s).\n"
            ),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&json(&plan)).expect("JSON");
        assert_eq!(json["exitCode"], 2);
        assert_eq!(json["summary"]["destructive"], 1);
        assert_eq!(
            json["objects"][0]["calls"][0]["operation"],
            "UpdateDataRetention"
        );
        assert_eq!(json["objects"][0]["verdict"], "changes");
    }

    #[test]
    fn the_exit_code_is_terraforms_detailed_one() {
        let plan = |verdicts: &[Verdict]| Plan {
            objects: verdicts.iter().map(|v| entry(v.clone(), vec![])).collect(),
            ignored: vec![],
        };
        assert_eq!(
            plan(&[Verdict::InSync, Verdict::ObserveOnly]).exit_code(),
            0
        );
        assert_eq!(plan(&[Verdict::InSync, Verdict::Changes]).exit_code(), 2);
        assert_eq!(plan(&[Verdict::Refused]).exit_code(), 2);
        assert_eq!(plan(&[Verdict::Changes, Verdict::Error]).exit_code(), 1);
        assert_eq!(plan(&[]).exit_code(), 0);
    }
}
