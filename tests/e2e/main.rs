//! End-to-end tests: the built `kvs-operator` binary against a real kube-apiserver + etcd
//! (built by `hack/control-plane.sh build`) and kvs-emulator, driven with `kubectl apply`
//! as a user does; and in `node`, the chart installed with helm on a one-node cluster,
//! the operator running in pods from its image. `hack/prepare.sh` makes what they need.

mod accounts;
mod audits;
mod channels;
mod chart;
mod clusters;
#[path = "../common/mod.rs"]
mod common;
mod configurations;
mod crash;
#[path = "../crd_schema/mod.rs"]
mod crd_schema;
mod exports;
mod faults;
mod import;
mod lifecycle;
mod monitoring;
mod node;
mod operations;
mod ownership;
mod plan;
mod policies;
mod prerequisites;
#[path = "../promql/mod.rs"]
mod promql;
mod protection;
mod proxy;
#[path = "../rbac_rules/mod.rs"]
mod rbac_rules;
#[path = "../releases/mod.rs"]
mod releases;
mod rest;
mod rules;
mod sharding;
mod support;
mod tags;
mod tenancy;
mod validation;
