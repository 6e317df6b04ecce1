//! The resources of one kind in one account and region, with what streams and signaling
//! channels share as the service keeps them: a name held from create until the delete has
//! finished, an ARN per incarnation, a version that changes with every update, the
//! CREATING → ACTIVE → UPDATING → ACTIVE → DELETING → gone state machine on a schedule,
//! tags, and name-ordered pages. What is particular to a kind is its [`Details`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use super::paging::{self, Page};
use super::rules::{add_tags, check_create, check_reserved_keys, new_version};
use super::schedule::{Schedule, Transitions};
use crate::model::arn::{arn_parts, new_arn, partition_of};
use crate::model::resource::Kind;
use crate::model::snapshot::StreamStatus;
use crate::wire::error::ApiError;

/// What one kind of resource keeps beyond the common record.
pub trait Details {
    /// The kind, which names the resource in ARNs and messages.
    const KIND: Kind;

    /// Called after any member the API reports has changed (status, version, details):
    /// a kind that caches its answer forgets it here.
    fn changed(&mut self) {}
}

/// One resource as the service stores it.
#[derive(Debug, Clone)]
pub struct Record<D> {
    pub name: String,
    pub arn: String,
    pub version: String,
    pub status: StreamStatus,
    pub creation_time: SystemTime,
    pub tags: BTreeMap<String, String>,
    /// Random part of the resource's endpoints, fixed for its lifetime.
    pub endpoint_id: String,
    /// What the kind keeps besides.
    pub details: D,
    /// The scheduled transition this resource waits for, if any.
    ticket: Option<u64>,
}

impl<D: Details> Transitions for Record<D> {
    fn ticket(&self) -> Option<u64> {
        self.ticket
    }

    fn status(&self) -> StreamStatus {
        self.status
    }

    fn become_active(&mut self) {
        self.ticket = None;
        self.status = StreamStatus::Active;
        self.details.changed();
    }
}

impl<D: Details> Record<D> {
    /// The region in the resource's ARN.
    pub fn region(&self) -> &str {
        self.arn.split(':').nth(3).unwrap_or_default()
    }

    /// Mutations need the resource ACTIVE and, when one is given, at `version`.
    pub fn check_mutable(&self, version: Option<&str>) -> Result<(), ApiError> {
        if self.status != StreamStatus::Active {
            return Err(ApiError::resource_in_use(format!(
                "The {} {} is {}; it can only be changed while ACTIVE.",
                D::KIND.noun(),
                self.name,
                self.status.as_str()
            )));
        }
        match version {
            Some(version) if version != self.version => Err(ApiError::version_mismatch(format!(
                "The {kind} version {version} does not match the current version {} of {kind} {}.",
                self.version,
                self.name,
                kind = D::KIND.as_str(),
            ))),
            _ => Ok(()),
        }
    }
}

/// How a request names its resource: by name, by ARN, or by both (which must agree).
#[derive(Debug, Clone, Copy, Default)]
pub struct Address<'a> {
    pub name: Option<&'a str>,
    pub arn: Option<&'a str>,
}

impl<'a> Address<'a> {
    pub fn arn(arn: &'a str) -> Address<'a> {
        Address {
            name: None,
            arn: Some(arn),
        }
    }

    #[cfg(test)]
    pub fn name(name: &'a str) -> Address<'a> {
        Address {
            name: Some(name),
            arn: None,
        }
    }
}

/// Which error a well-formed ARN of another resource type gets: the stream tagging
/// operations model `InvalidResourceFormatException`, the rest do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArnCheck {
    Tagging,
    Plain,
}

/// What a tagging call asks.
pub enum TagChange<'a> {
    /// TagStream, TagResource.
    Add(BTreeMap<String, String>),
    /// UntagStream, UntagResource.
    Remove(&'a [String]),
}

impl TagChange<'_> {
    fn keys(&self) -> Box<dyn Iterator<Item = &String> + '_> {
        match self {
            TagChange::Add(tags) => Box::new(tags.keys()),
            TagChange::Remove(keys) => Box::new(keys.iter()),
        }
    }
}

/// A create that passed validation: the name, the tags, and what the kind keeps.
pub struct NewRecord<D> {
    pub name: String,
    pub tags: BTreeMap<String, String>,
    pub details: D,
}

/// Account limits a create obeys.
#[derive(Debug, Clone, Copy, Default)]
pub struct CreateLimits {
    /// Resources of the kind allowed in the scope.
    pub max: Option<usize>,
    /// Whether tag keys may start with `aws:`.
    pub allow_reserved_tags: bool,
}

/// Every resource of one kind in one account and region.
pub struct Registry<D> {
    region: String,
    account_id: String,
    partition: &'static str,
    records: BTreeMap<String, Record<D>>,
    schedule: Schedule,
}

impl<D: Details> Registry<D> {
    pub fn new(region: &str, account_id: &str) -> Self {
        Registry {
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            partition: partition_of(region),
            records: BTreeMap::new(),
            schedule: Schedule::default(),
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    pub fn partition(&self) -> &'static str {
        self.partition
    }

    /// Applies every transition due by `now`.
    pub fn settle(&mut self, now: Instant) {
        self.schedule.settle(&mut self.records, now);
    }

    /// Whether no resource exists (in any state).
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// How many resources exist (in any state).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Every resource, by name.
    pub fn records(&self) -> impl Iterator<Item = &Record<D>> {
        self.records.values()
    }

    /// One resource by name, in any state.
    pub fn named(&self, name: &str) -> Option<&Record<D>> {
        self.records.get(name)
    }

    /// Forgets every resource.
    pub fn clear(&mut self) {
        self.records.clear();
        self.schedule.clear();
    }

    /// Create: the new resource is CREATING until `delay` has passed.
    pub fn create(
        &mut self,
        new: NewRecord<D>,
        limits: CreateLimits,
        delay: Duration,
        now: Instant,
    ) -> Result<&Record<D>, ApiError> {
        check_create(
            D::KIND,
            &new.name,
            &new.tags,
            limits.allow_reserved_tags,
            &self.records,
            limits.max,
        )?;
        let (creation_time, arn) = new_arn(
            self.partition,
            &self.region,
            &self.account_id,
            D::KIND,
            &new.name,
        );
        let ticket = self.schedule.enqueue(&new.name, delay, now);
        let record = Record {
            name: new.name.clone(),
            arn,
            version: new_version(),
            status: if ticket.is_some() {
                StreamStatus::Creating
            } else {
                StreamStatus::Active
            },
            creation_time,
            tags: new.tags,
            endpoint_id: format!("{:08x}", fastrand::u32(..)),
            details: new.details,
            ticket,
        };
        Ok(self.records.entry(new.name).or_insert(record))
    }

    /// The name `address` means (validation has checked the ARN's shape).
    fn locate<'a>(&self, address: Address<'a>, check: ArnCheck) -> Result<&'a str, ApiError> {
        let kind = D::KIND;
        let member = kind.member_prefix();
        let Some(arn) = address.arn else {
            return address.name.ok_or_else(|| {
                ApiError::invalid_argument(format!(
                    "Either {member}Name or {member}ARN must be specified."
                ))
            });
        };
        let (resource_type, name) = arn_parts(arn).unwrap_or_default();
        if resource_type != kind.as_str() {
            let message = format!("The ARN {arn} does not identify a {}.", kind.noun());
            return Err(match check {
                ArnCheck::Tagging => ApiError::invalid_resource_format(message),
                ArnCheck::Plain => ApiError::invalid_argument(message),
            });
        }
        match address.name {
            Some(given) if given != name => Err(ApiError::invalid_argument(format!(
                "{member}Name {given} and {member}ARN {arn} do not identify the same {}.",
                kind.as_str()
            ))),
            _ => Ok(name),
        }
    }

    fn not_found() -> ApiError {
        match D::KIND {
            Kind::Stream => ApiError::stream_not_found(),
            Kind::Channel => ApiError::channel_not_found(),
        }
    }

    /// The resource `address` names, in any state; an ARN names one incarnation.
    pub fn get(&self, address: Address<'_>, check: ArnCheck) -> Result<&Record<D>, ApiError> {
        let name = self.locate(address, check)?;
        let record = self.records.get(name).ok_or_else(Self::not_found)?;
        match address.arn {
            Some(arn) if arn != record.arn => Err(Self::not_found()),
            _ => Ok(record),
        }
    }

    /// The resource addressed, unless it is being deleted.
    pub fn get_live(&self, address: Address<'_>, check: ArnCheck) -> Result<&Record<D>, ApiError> {
        let record = self.get(address, check)?;
        if record.status == StreamStatus::Deleting {
            return Err(Self::not_found());
        }
        Ok(record)
    }

    fn get_mut(
        &mut self,
        address: Address<'_>,
        check: ArnCheck,
    ) -> Result<&mut Record<D>, ApiError> {
        let name = self.get(address, check)?.name.clone();
        self.records.get_mut(&name).ok_or_else(Self::not_found)
    }

    /// The resource addressed, for a change that needs it ACTIVE but takes no version and
    /// starts no transition (a stream's configurations, a channel's media storage).
    pub fn get_active_mut(&mut self, address: Address<'_>) -> Result<&mut Record<D>, ApiError> {
        let record = self.get_mut(address, ArnCheck::Plain)?;
        record.check_mutable(None)?;
        Ok(record)
    }

    /// The resource with this exact ARN (this incarnation), in any state.
    pub fn by_arn(&self, arn: &str) -> Option<&Record<D>> {
        let (_, name) = arn_parts(arn)?;
        self.records.get(name).filter(|record| record.arn == arn)
    }

    /// A listing: resources in name order, starting after `after`, whose names begin with
    /// `prefix`.
    pub fn list(&self, prefix: &str, after: Option<&str>, max: usize) -> Page<&Record<D>> {
        paging::by_name(&self.records, prefix, after, max)
    }

    /// An update: the resource must be ACTIVE at `version`; `change` checks and applies
    /// what the request asks (it changes nothing when it fails), then the resource gets a
    /// new version and is UPDATING until `delay` has passed.
    pub fn update(
        &mut self,
        address: Address<'_>,
        version: &str,
        delay: Duration,
        now: Instant,
        change: impl FnOnce(&mut D) -> Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        let record = self.get_mut(address, ArnCheck::Plain)?;
        record.check_mutable(Some(version))?;
        change(&mut record.details)?;
        let name = record.name.clone();
        let ticket = self.schedule.enqueue(&name, delay, now);
        let record = self.records.get_mut(&name).ok_or_else(Self::not_found)?;
        record.version = new_version();
        record.ticket = ticket;
        if ticket.is_some() {
            record.status = StreamStatus::Updating;
        }
        record.details.changed();
        Ok(())
    }

    /// A delete, by ARN: the resource must be ACTIVE (and at `version`, when given); it is
    /// DELETING until `delay` has passed, then gone.
    pub fn delete(
        &mut self,
        arn: &str,
        version: Option<&str>,
        delay: Duration,
        now: Instant,
    ) -> Result<(), ApiError> {
        let record = self.get(Address::arn(arn), ArnCheck::Plain)?;
        record.check_mutable(version)?;
        let name = record.name.clone();
        match self.schedule.enqueue(&name, delay, now) {
            None => {
                self.records.remove(&name);
            }
            Some(ticket) => {
                if let Some(record) = self.records.get_mut(&name) {
                    record.status = StreamStatus::Deleting;
                    record.ticket = Some(ticket);
                    record.details.changed();
                }
            }
        }
        Ok(())
    }

    /// A tagging call: adds or overwrites tags (at most 50 in all) or removes the keys
    /// that exist (absent keys are ignored); the version stays, and any state but
    /// DELETING will do.
    pub fn retag(
        &mut self,
        address: Address<'_>,
        check: ArnCheck,
        change: TagChange<'_>,
        allow_reserved_tags: bool,
    ) -> Result<(), ApiError> {
        check_reserved_keys(change.keys(), allow_reserved_tags)?;
        self.get_live(address, check)?;
        let record = self.get_mut(address, check)?;
        match change {
            TagChange::Add(tags) => add_tags(&mut record.tags, tags, D::KIND),
            TagChange::Remove(keys) => {
                for key in keys {
                    record.tags.remove(key);
                }
                Ok(())
            }
        }
    }

    /// An endpoint host of `record` in this region: `https://KIND-ID.kinesisvideo.REGION…`.
    pub fn endpoint(&self, scheme: &str, host_kind: &str, record: &Record<D>) -> String {
        format!(
            "{scheme}://{host_kind}-{}.kinesisvideo.{}.{}",
            record.endpoint_id,
            self.region,
            crate::model::arn::dns_suffix(self.partition)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Default)]
    struct Thing;

    impl Details for Thing {
        const KIND: Kind = Kind::Channel;
    }

    fn new(name: &str) -> NewRecord<Thing> {
        NewRecord {
            name: name.into(),
            tags: BTreeMap::new(),
            details: Thing,
        }
    }

    #[test]
    fn lifecycle_and_versions() {
        let mut things = Registry::<Thing>::new("us-west-2", "123456789012");
        let t0 = Instant::now();
        let delay = Duration::from_secs(1);
        let limits = CreateLimits::default();
        let arn = things
            .create(new("door"), limits, delay, t0)
            .unwrap()
            .arn
            .clone();
        assert!(arn.starts_with("arn:aws:kinesisvideo:us-west-2:123456789012:channel/door/"));
        let version = things.named("door").unwrap().version.clone();
        let in_use = things
            .update(Address::arn(&arn), &version, delay, t0, |_| Ok(()))
            .unwrap_err();
        assert_eq!(in_use.code, "ResourceInUseException");
        things.settle(t0 + delay);
        let stale = things
            .update(Address::arn(&arn), "stale", delay, t0 + delay, |_| Ok(()))
            .unwrap_err();
        assert_eq!(stale.code, "VersionMismatchException");
        let refused = things
            .update(Address::arn(&arn), &version, delay, t0 + delay, |_| {
                Err(ApiError::invalid_argument("no"))
            })
            .unwrap_err();
        assert_eq!(refused.code, "InvalidArgumentException");
        assert_eq!(
            things.named("door").unwrap().version,
            version,
            "nothing changed"
        );
        things
            .update(Address::arn(&arn), &version, delay, t0 + delay, |_| Ok(()))
            .unwrap();
        let updated = things.named("door").unwrap();
        assert_eq!(updated.status, StreamStatus::Updating);
        assert_ne!(updated.version, version);
        things.settle(t0 + delay * 2);
        things.delete(&arn, None, delay, t0 + delay * 2).unwrap();
        assert!(
            things
                .get_live(Address::arn(&arn), ArnCheck::Plain)
                .is_err()
        );
        assert!(things.get(Address::arn(&arn), ArnCheck::Plain).is_ok());
        let taken = things.create(new("door"), limits, delay, t0).unwrap_err();
        assert_eq!(
            taken.code, "ResourceInUseException",
            "a deleting name is taken"
        );
        things.settle(t0 + delay * 3);
        assert!(things.is_empty());
        let full = CreateLimits {
            max: Some(0),
            ..limits
        };
        assert!(things.create(new("door"), full, delay, t0).is_err());
    }

    #[test]
    fn addresses_must_agree_and_name_the_kind() {
        let things = Registry::<Thing>::new("us-west-2", "123456789012");
        let stream_arn = "arn:aws:kinesisvideo:us-west-2:123456789012:stream/x/1";
        let err = things
            .get(Address::arn(stream_arn), ArnCheck::Plain)
            .unwrap_err();
        assert_eq!(err.code, "InvalidArgumentException");
        let err = things
            .get(Address::arn(stream_arn), ArnCheck::Tagging)
            .unwrap_err();
        assert_eq!(err.code, "InvalidResourceFormatException");
        let err = things.get(Address::default(), ArnCheck::Plain).unwrap_err();
        assert_eq!(err.code, "InvalidArgumentException");
        let err = things
            .get(
                Address {
                    name: Some("a"),
                    arn: Some("arn:aws:kinesisvideo:us-west-2:123456789012:channel/b/1"),
                },
                ArnCheck::Plain,
            )
            .unwrap_err();
        assert!(err.message.contains("same channel"), "{}", err.message);
    }

    #[test]
    fn tags_need_a_live_resource() {
        let mut things = Registry::<Thing>::new("us-west-2", "123456789012");
        let t0 = Instant::now();
        let delay = Duration::from_secs(1);
        things
            .create(new("t"), CreateLimits::default(), Duration::ZERO, t0)
            .unwrap();
        let tags = BTreeMap::from([("k".to_owned(), "v".to_owned())]);
        let name = Address::name("t");
        let add = |tags: &BTreeMap<String, String>| TagChange::Add(tags.clone());
        things
            .retag(name, ArnCheck::Plain, add(&tags), false)
            .unwrap();
        assert_eq!(things.named("t").unwrap().tags, tags);
        let reserved = BTreeMap::from([("aws:x".to_owned(), String::new())]);
        let refused = things.retag(name, ArnCheck::Plain, add(&reserved), false);
        assert_eq!(refused.unwrap_err().code, "InvalidArgumentException");
        let keys = ["k".to_owned(), "absent".to_owned()];
        let remove = TagChange::Remove(&keys);
        things.retag(name, ArnCheck::Plain, remove, false).unwrap();
        assert!(things.named("t").unwrap().tags.is_empty());
        let arn = things.named("t").unwrap().arn.clone();
        things.delete(&arn, None, delay, t0).unwrap();
        let gone = things.retag(name, ArnCheck::Plain, add(&tags), false);
        assert_eq!(gone.unwrap_err().code, "ResourceNotFoundException");
        let gone = things.retag(name, ArnCheck::Plain, TagChange::Remove(&[]), false);
        assert_eq!(gone.unwrap_err().code, "ResourceNotFoundException");
    }
}
