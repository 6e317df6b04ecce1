//! `spec.exportTo`: an object's coordinates (ARN, region, endpoints) in a ConfigMap of its
//! own namespace, owned by the object, so that pods read them with `envFrom`.
//!
//! The ConfigMap is written after a step that leaves the object Ready (the coordinates are
//! then all known), kept current by the full reconciles that follow, and deleted when
//! `exportTo` leaves the spec or names another ConfigMap, and in cleanup (by the operator
//! itself: garbage collection is only the fallback). The status records which ConfigMap
//! was written (`status.exportedConfigMap`), so a removed `exportTo` is cleaned up too.
//!
//! A ConfigMap of that name that the object does not own is never changed: every write is
//! a JSON patch that first tests the owner's uid, so the check and the write are one atomic
//! request; a failed test is `ExportConflict`. The operator has no `get` on ConfigMaps at
//! all, and the chart's ValidatingAdmissionPolicy lets it write only ConfigMaps that carry
//! its label and an owner of its kinds (see charts/kvs-operator/templates/exports.yaml).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::json;

use super::conditions::{Verdict, set_conditions};
use super::context::{Context, MANAGER};
use super::kind::{Kind, KindStatus, Outcome, Readiness};
use crate::{Error, Result};

/// The label every exported ConfigMap carries (with its owner reference, what the chart's
/// admission policy lets the operator write).
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "kvs-operator");

/// What one reconcile did about the export, for the status.
#[derive(Debug, Default)]
pub struct Export {
    /// `Some`: the new `status.exportedConfigMap`.
    recorded: Option<Option<String>>,
    /// Why the export could not be brought up to date.
    failure: Option<Error>,
}

impl Export {
    /// Nothing was done (paused, deleting, or nothing to export).
    pub fn untouched() -> Self {
        Self::default()
    }

    /// Writes what was done into `status`; a failure makes Synced False (and, when a
    /// person must act, Ready False), as any failed reconcile does.
    pub fn record<S: KindStatus>(&self, status: &mut S, generation: Option<i64>, now: Timestamp) {
        if let Some(name) = &self.recorded {
            status.set_exported_config_map(name.clone());
        }
        if let Some(error) = &self.failure {
            set_conditions(
                status.conditions_mut(),
                generation,
                Verdict::Failed(error),
                now,
            );
        }
    }

    /// The failure, for the error policy's backoff.
    pub fn into_result(self) -> Result<()> {
        self.failure.map_or(Ok(()), Err)
    }
}

/// Brings the export up to date after a step: removes a ConfigMap the spec no longer
/// names, and writes the coordinates once the step left the object Ready.
pub async fn publish<K: Kind>(object: &K, step: &Result<K::Report>, ctx: &Context) -> Export {
    let Ok(report) = step else {
        return Export::untouched();
    };
    // A replica that may no longer act for the object writes nothing (see the reconcile).
    if crate::kvs::gate::check_reconcile("writing the export").is_err() {
        return Export::untouched();
    }
    let wanted = object.export_to();
    let had = object.status().and_then(KindStatus::exported_config_map);
    let mut export = Export::untouched();
    let api = configmaps(object, ctx);
    if let Some(old) = had.filter(|old| Some(*old) != wanted) {
        if let Err(error) = remove_owned(&api, old, object).await {
            export.failure = Some(error);
            return export;
        }
        export.recorded = Some(None);
    }
    let Some(name) = wanted else {
        return export;
    };
    if !matches!(K::readiness(report), Readiness::Ready { .. }) {
        return export;
    }
    // The coordinates as the status is about to hold them.
    let status = object.next_status(Outcome::Synced(report), Timestamp::now());
    let Some(values) = K::coordinates(&status) else {
        return export;
    };
    match write(&api, name, object, &values).await {
        Ok(()) => export.recorded = Some(Some(name.to_string())),
        Err(error) => export.failure = Some(error),
    }
    export
}

/// Deletes the exported ConfigMap of an object being deleted (the one recorded, and the
/// one the spec names), if it is the object's.
pub async fn remove<K: Kind>(object: &K, ctx: &Context) -> Result<()> {
    let api = configmaps(object, ctx);
    let recorded = object.status().and_then(KindStatus::exported_config_map);
    let mut names: Vec<&str> = recorded.into_iter().chain(object.export_to()).collect();
    names.dedup();
    for name in names {
        remove_owned(&api, name, object).await?;
    }
    Ok(())
}

/// ConfigMaps of the object's own namespace: the only ones it may write.
fn configmaps<K: Kind>(object: &K, ctx: &Context) -> Api<ConfigMap> {
    Api::namespaced(ctx.client.clone(), &object.namespace().unwrap_or_default())
}

/// The reference that makes the ConfigMap the object's (and lets the garbage collector
/// delete it should the operator not).
fn owner_reference<K: Kind>(object: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: object.name_any(),
        uid: object.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: None,
    }
}

/// The exported ConfigMap as first created.
pub fn config_map<K: Kind>(object: &K, name: &str, values: &BTreeMap<String, String>) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: object.namespace(),
            labels: Some(BTreeMap::from([(
                MANAGED_BY.0.to_string(),
                MANAGED_BY.1.to_string(),
            )])),
            owner_references: Some(vec![owner_reference(object)]),
            ..ObjectMeta::default()
        },
        data: Some(values.clone()),
        ..ConfigMap::default()
    }
}

/// A JSON patch that applies only while the ConfigMap's first owner is the object (by
/// uid), then does `then`.
fn guarded(uid: &str, then: Vec<serde_json::Value>) -> Result<json_patch::Patch> {
    let mut operations = vec![json!({
        "op": "test",
        "path": "/metadata/ownerReferences/0/uid",
        "value": uid,
    })];
    operations.extend(then);
    serde_json::from_value(serde_json::Value::Array(operations))
        .map_err(|e| Error::Config(format!("cannot build the export patch: {e}")))
}

/// Writes the coordinates into `name`: a guarded patch of the object's own ConfigMap, or
/// a create when there is none.
async fn write<K: Kind>(
    api: &Api<ConfigMap>,
    name: &str,
    object: &K,
    values: &BTreeMap<String, String>,
) -> Result<()> {
    let uid = object.uid().unwrap_or_default();
    let patch = guarded(
        &uid,
        vec![json!({"op": "add", "path": "/data", "value": values})],
    )?;
    let params = PatchParams {
        field_manager: Some(MANAGER.to_string()),
        ..PatchParams::default()
    };
    match api.patch(name, &params, &Patch::<()>::Json(patch)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => {
            let params = PostParams {
                field_manager: Some(MANAGER.to_string()),
                ..PostParams::default()
            };
            api.create(&params, &config_map(object, name, values))
                .await?;
            Ok(())
        }
        Err(error) => Err(refusal::<K>(error, name, object)),
    }
}

/// Deletes `name` if it is the object's: a guarded patch that changes nothing proves it
/// (and tells its uid and version), then a delete with those as preconditions. Gone or
/// someone else's: nothing to do.
async fn remove_owned<K: Kind>(api: &Api<ConfigMap>, name: &str, object: &K) -> Result<()> {
    let uid = object.uid().unwrap_or_default();
    let proof = guarded(&uid, Vec::new())?;
    let current = match api
        .patch(name, &PatchParams::default(), &Patch::<()>::Json(proof))
        .await
    {
        Ok(current) => current,
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
        Err(error) => {
            return match refusal::<K>(error, name, object) {
                // Not ours (any more): left as it is.
                Error::ExportConflict(_) => Ok(()),
                other => Err(other),
            };
        }
    };
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: current.uid(),
            resource_version: current.resource_version(),
        }),
        ..DeleteParams::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// An API error of a guarded write: a failed owner test (422) or the chart's admission
/// policy refusing a ConfigMap that is no export of ours (403) is a conflict; anything else
/// is the API server's.
fn refusal<K: Kind>(error: kube::Error, name: &str, object: &K) -> Error {
    match &error {
        kube::Error::Api(status) if is_not_ours(status.code, &status.message) => {
            Error::ExportConflict(format!(
                "spec.exportTo names ConfigMap {name}, which exists and is not this {}'s (its first ownerReference must be {} {}); it is left untouched: delete it or choose another name",
                K::kind(&()),
                K::kind(&()),
                object.name_any(),
            ))
        }
        _ => error.into(),
    }
}

/// Whether an API answer says the ConfigMap is not the object's.
fn is_not_ours(code: u16, message: &str) -> bool {
    code == 422 || (code == 403 && message.contains("ValidatingAdmissionPolicy"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ExportTo, VideoStream, VideoStreamSpec, VideoStreamStatus};

    fn stream() -> VideoStream {
        let mut vs = VideoStream::new(
            "front-door",
            VideoStreamSpec {
                export_to: Some(ExportTo {
                    config_map_name: "front-door-kvs".into(),
                }),
                ..VideoStreamSpec::default()
            },
        );
        vs.metadata.namespace = Some("cameras".into());
        vs.metadata.uid = Some("7f1c".into());
        vs
    }

    #[test]
    fn the_config_map_is_owned_by_the_object_in_its_namespace_and_labelled() {
        let values = BTreeMap::from([("STREAM_ARN".to_string(), "arn".to_string())]);
        let cm = config_map(&stream(), "front-door-kvs", &values);
        assert_eq!(cm.metadata.namespace.as_deref(), Some("cameras"));
        let owner = &cm.metadata.owner_references.as_ref().expect("owner")[0];
        assert_eq!(
            (
                owner.api_version.as_str(),
                owner.kind.as_str(),
                owner.name.as_str(),
                owner.uid.as_str(),
                owner.controller
            ),
            (
                "kvs-operator.dev/v1alpha1",
                "VideoStream",
                "front-door",
                "7f1c",
                Some(true)
            )
        );
        assert_eq!(
            cm.metadata.labels.expect("labels")[MANAGED_BY.0],
            MANAGED_BY.1
        );
        assert_eq!(cm.data, Some(values));
    }

    #[test]
    fn every_write_first_tests_the_owner_uid() {
        let patch = guarded(
            "7f1c",
            vec![json!({"op": "add", "path": "/data", "value": {}})],
        )
        .expect("patch");
        let ops = serde_json::to_value(&patch).expect("json");
        assert_eq!(ops[0]["op"], "test");
        assert_eq!(ops[0]["path"], "/metadata/ownerReferences/0/uid");
        assert_eq!(ops[0]["value"], "7f1c");
        assert_eq!(ops[1]["op"], "add");
    }

    #[test]
    fn a_failed_test_or_the_admission_policy_means_not_ours_and_nothing_else_does() {
        assert!(is_not_ours(422, "testing value failed"));
        assert!(is_not_ours(
            403,
            "configmaps \"x\" is forbidden: ValidatingAdmissionPolicy 'kvs-exports' with binding 'kvs-exports' denied request"
        ));
        assert!(!is_not_ours(
            403,
            "configmaps \"x\" is forbidden: User \"system:serviceaccount:a:b\" cannot patch resource"
        ));
        assert!(!is_not_ours(500, "etcd"));
    }

    #[test]
    fn a_failed_export_turns_synced_false_and_keeps_what_was_recorded() {
        let mut status = VideoStreamStatus {
            exported_config_map: Some("old".into()),
            ..VideoStreamStatus::default()
        };
        let export = Export {
            recorded: None,
            failure: Some(Error::ExportConflict("taken".into())),
        };
        export.record(&mut status, Some(3), Timestamp::now());
        assert_eq!(status.exported_config_map.as_deref(), Some("old"));
        let synced = crate::engine::conditions::find(&status.conditions, "Synced").expect("Synced");
        assert_eq!(
            (synced.status.as_str(), synced.reason.as_str()),
            ("False", "ExportConflict")
        );
        assert!(export.into_result().is_err());

        let mut status = VideoStreamStatus::default();
        let written = Export {
            recorded: Some(Some("new".into())),
            failure: None,
        };
        written.record(&mut status, Some(3), Timestamp::now());
        assert_eq!(status.exported_config_map.as_deref(), Some("new"));
        assert!(status.conditions.is_empty());
    }
}
