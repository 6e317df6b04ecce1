//! [`KinesisVideo`] over `aws-sdk-kinesisvideo`: the only place that knows SDK types.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kinesisvideo::Client;
use aws_sdk_kinesisvideo::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesisvideo::types::{
    self as sdk, ApiName, ChannelInfo, ChannelProtocol, ChannelRole, ChannelType,
    ComparisonOperator, DefaultStorageTier, SingleMasterChannelEndpointConfiguration,
    SingleMasterConfiguration, StreamInfo, StreamNameCondition, StreamStorageConfiguration,
    UpdateDataRetentionOperation,
};

use super::{
    Channel, KinesisVideo, MediaStorageConfig, NewChannel, NewStream, Page, ResourceStatus,
    RetentionChange, Stream, TagRead, is_channel_arn,
};
use crate::api::{
    ChannelEndpoints, ConfigurationStatus, ImageFormat, ImageGeneration, ImageSelectorType,
    Notification, RoleEndpoints, StorageTier,
};
use crate::{Error, Result};

/// Streams (and channels) asked for per ListStreams (ListSignalingChannels) page. KVS
/// returns up to 10,000 in one call; a page of 10,000 is about 3 MB of JSON and as much
/// again parsed, held while a drift scan reads it, so a scan (which keeps only a hash of
/// each) asks for smaller pages: ten calls per 10,000 streams, against a quota of 50 a
/// second per account.
pub const LIST_PAGE_SIZE: i32 = 1_000;

/// The adapter. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SdkKinesisVideo {
    client: Client,
}

impl SdkKinesisVideo {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Builds a client from the standard AWS chain (env, profile, web identity, Pod
    /// Identity, `AWS_ENDPOINT_URL`...), with a per-call timeout so a hung request cannot
    /// stall a reconcile.
    pub async fn from_env(call_timeout: Duration) -> Self {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .operation_timeout(call_timeout)
            .build();
        let config = aws_config::from_env().timeout_config(timeouts).load().await;
        Self::new(Client::new(&config))
    }
}

/// Maps an SDK error (of any AWS service) to the operator's error, by the AWS error code.
pub(crate) fn map_err<E>(err: SdkError<E, aws_smithy_runtime_api::http::Response>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let code = inner.code().unwrap_or("Unknown").to_string();
            let message = inner.message().unwrap_or_default().to_string();
            let status = service.raw().status().as_u16();
            from_code(code, message, status)
        }
        // Credentials that could not be had (an AssumeRole refused, say) surface as a
        // dispatch failure; they are a permission problem, not an outage.
        SdkError::DispatchFailure(_) if credentials_failure(&err) => Error::AccessDenied {
            code: "CredentialsNotAvailable".into(),
            message: error_chain(&err),
        },
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Error::Unavailable(error_chain(&err))
        }
        // Construction failures are mostly missing credentials or region.
        _ => Error::AccessDenied {
            code: "ClientConfiguration".into(),
            message: error_chain(&err),
        },
    }
}

/// Whether a credentials provider failed for a reason other than a timeout.
fn credentials_failure(err: &(dyn std::error::Error + 'static)) -> bool {
    use aws_credential_types::provider::error::CredentialsError;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cause) = source {
        if let Some(failure) = cause.downcast_ref::<CredentialsError>() {
            return !matches!(failure, CredentialsError::ProviderTimedOut(_));
        }
        source = cause.source();
    }
    false
}

fn from_code(code: String, message: String, http_status: u16) -> Error {
    match code.as_str() {
        "ClientLimitExceededException" | "ThrottlingException" => Error::Throttled(message),
        "ResourceInUseException" => Error::ResourceInUse(message),
        "VersionMismatchException" => Error::VersionMismatch(message),
        "ResourceNotFoundException" => Error::NotFound(message),
        "InvalidArgumentException"
        | "InvalidDeviceException"
        | "InvalidResourceFormatException"
        | "NoDataRetentionException" => Error::InvalidArgument { code, message },
        "TagsPerResourceExceededLimitException"
        | "AccountStreamLimitExceededException"
        | "DeviceStreamLimitExceededException" => Error::LimitExceeded { code, message },
        "AccessDeniedException"
        | "AccessDenied"
        | "InvalidClientTokenId"
        | "ExpiredToken"
        | "RegionDisabledException"
        | "NotAuthorizedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "MissingAuthenticationTokenException"
        | "ExpiredTokenException" => Error::AccessDenied { code, message },
        _ if http_status >= 500 => Error::Unavailable(format!("{code}: {message}")),
        _ => Error::Aws { code, message },
    }
}

/// The error with its sources, since SDK errors keep the useful part in the chain.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn to_stream(info: &StreamInfo) -> Stream {
    Stream {
        name: info.stream_name().unwrap_or_default().to_string(),
        arn: info.stream_arn().unwrap_or_default().to_string(),
        version: info.version().unwrap_or_default().to_string(),
        status: ResourceStatus::parse(info.status().map(|s| s.as_str()).unwrap_or("UNKNOWN")),
        device_name: info.device_name().map(str::to_string),
        media_type: info.media_type().map(str::to_string),
        kms_key_id: info.kms_key_id().map(str::to_string),
        data_retention_in_hours: info.data_retention_in_hours().unwrap_or(0),
        creation_time: info.creation_time().map(|t| t.secs()),
    }
}

/// The token of the next page; an empty one, like none, means the listing is complete.
fn next_token(token: Option<&str>) -> Option<String> {
    token.filter(|token| !token.is_empty()).map(str::to_string)
}

fn to_channel(info: &ChannelInfo) -> Channel {
    Channel {
        name: info.channel_name().unwrap_or_default().to_string(),
        arn: info.channel_arn().unwrap_or_default().to_string(),
        version: info.version().unwrap_or_default().to_string(),
        status: ResourceStatus::parse(
            info.channel_status()
                .map(|s| s.as_str())
                .unwrap_or("UNKNOWN"),
        ),
        message_ttl_seconds: info
            .single_master_configuration()
            .and_then(|c| c.message_ttl_seconds()),
        creation_time: info.creation_time().map(|t| t.secs()),
    }
}

fn to_sdk_status(status: ConfigurationStatus) -> sdk::ConfigurationStatus {
    match status {
        ConfigurationStatus::Enabled => sdk::ConfigurationStatus::Enabled,
        ConfigurationStatus::Disabled => sdk::ConfigurationStatus::Disabled,
    }
}

fn from_sdk_status(status: &sdk::ConfigurationStatus) -> ConfigurationStatus {
    match status {
        sdk::ConfigurationStatus::Enabled => ConfigurationStatus::Enabled,
        _ => ConfigurationStatus::Disabled,
    }
}

fn to_sdk_image_generation(config: &ImageGeneration) -> Result<sdk::ImageGenerationConfiguration> {
    let destination = sdk::ImageGenerationDestinationConfig::builder()
        .uri(&config.destination_uri)
        .destination_region(&config.destination_region)
        .build()
        .map_err(|e| Error::InvalidSpec(e.to_string()))?;
    let mut builder = sdk::ImageGenerationConfiguration::builder()
        .status(to_sdk_status(config.status))
        .image_selector_type(match config.image_selector_type {
            ImageSelectorType::ServerTimestamp => sdk::ImageSelectorType::ServerTimestamp,
            ImageSelectorType::ProducerTimestamp => sdk::ImageSelectorType::ProducerTimestamp,
        })
        .destination_config(destination)
        .sampling_interval(config.sampling_interval)
        .format(match config.format {
            ImageFormat::Jpeg => sdk::Format::Jpeg,
            ImageFormat::Png => sdk::Format::Png,
        })
        .set_width_pixels(config.width_pixels)
        .set_height_pixels(config.height_pixels);
    for (key, value) in config.format_config.iter().flatten() {
        builder = builder.format_config(sdk::FormatConfigKey::from(key.as_str()), value);
    }
    builder
        .build()
        .map_err(|e| Error::InvalidSpec(e.to_string()))
}

fn from_sdk_image_generation(config: &sdk::ImageGenerationConfiguration) -> ImageGeneration {
    let destination = config.destination_config();
    let format_config: Option<BTreeMap<String, String>> = config.format_config().map(|map| {
        map.iter()
            .map(|(k, v)| (k.as_str().to_string(), v.clone()))
            .collect()
    });
    ImageGeneration {
        status: from_sdk_status(config.status()),
        destination_uri: destination.map(|d| d.uri().to_string()).unwrap_or_default(),
        destination_region: destination
            .map(|d| d.destination_region().to_string())
            .unwrap_or_default(),
        image_selector_type: match config.image_selector_type() {
            sdk::ImageSelectorType::ProducerTimestamp => ImageSelectorType::ProducerTimestamp,
            _ => ImageSelectorType::ServerTimestamp,
        },
        sampling_interval: config.sampling_interval(),
        format: match config.format() {
            sdk::Format::Png => ImageFormat::Png,
            _ => ImageFormat::Jpeg,
        },
        format_config: format_config.filter(|m| !m.is_empty()),
        width_pixels: config.width_pixels(),
        height_pixels: config.height_pixels(),
    }
}

fn to_sdk_tier(tier: StorageTier) -> DefaultStorageTier {
    match tier {
        StorageTier::Hot => DefaultStorageTier::Hot,
        StorageTier::Warm => DefaultStorageTier::Warm,
    }
}

fn storage_configuration(tier: StorageTier) -> Result<StreamStorageConfiguration> {
    StreamStorageConfiguration::builder()
        .default_storage_tier(to_sdk_tier(tier))
        .build()
        .map_err(|e| Error::InvalidSpec(e.to_string()))
}

#[async_trait]
impl KinesisVideo for SdkKinesisVideo {
    async fn describe_stream(&self, name: &str) -> Result<Option<Stream>> {
        match self.client.describe_stream().stream_name(name).send().await {
            Ok(out) => Ok(out.stream_info().map(to_stream)),
            Err(err) => match map_err(err) {
                Error::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn list_streams_page(
        &self,
        prefix: Option<&str>,
        token: Option<String>,
    ) -> Result<Page<Stream>> {
        let mut request = self
            .client
            .list_streams()
            .max_results(LIST_PAGE_SIZE)
            .set_next_token(token);
        // The model's ComparisonValue has at least one character: "" is no condition.
        if let Some(prefix) = prefix.filter(|prefix| !prefix.is_empty()) {
            request = request.stream_name_condition(
                StreamNameCondition::builder()
                    .comparison_operator(ComparisonOperator::BeginsWith)
                    .comparison_value(prefix)
                    .build(),
            );
        }
        let page = request.send().await.map_err(map_err)?;
        Ok(Page {
            items: page.stream_info_list().iter().map(to_stream).collect(),
            next: next_token(page.next_token()),
        })
    }

    async fn create_stream(&self, stream: &NewStream) -> Result<String> {
        let mut request = self
            .client
            .create_stream()
            .stream_name(&stream.name)
            .set_device_name(stream.device_name.clone())
            .set_media_type(stream.media_type.clone())
            .set_kms_key_id(stream.kms_key_id.clone())
            .set_data_retention_in_hours(stream.data_retention_in_hours);
        for (key, value) in &stream.tags {
            request = request.tags(key, value);
        }
        if let Some(tier) = stream.storage_tier {
            request = request.stream_storage_configuration(storage_configuration(tier)?);
        }
        let out = request.send().await.map_err(map_err)?;
        Ok(out.stream_arn().unwrap_or_default().to_string())
    }

    async fn update_stream(
        &self,
        arn: &str,
        version: &str,
        device_name: Option<&str>,
        media_type: Option<&str>,
    ) -> Result<()> {
        self.client
            .update_stream()
            .stream_arn(arn)
            .current_version(version)
            .set_device_name(device_name.map(str::to_string))
            .set_media_type(media_type.map(str::to_string))
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn update_data_retention(
        &self,
        arn: &str,
        version: &str,
        change: RetentionChange,
    ) -> Result<()> {
        let (operation, hours) = match change {
            RetentionChange::Increase(h) => {
                (UpdateDataRetentionOperation::IncreaseDataRetention, h)
            }
            RetentionChange::Decrease(h) => {
                (UpdateDataRetentionOperation::DecreaseDataRetention, h)
            }
        };
        self.client
            .update_data_retention()
            .stream_arn(arn)
            .current_version(version)
            .operation(operation)
            .data_retention_change_in_hours(hours)
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn tag(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        if is_channel_arn(arn) {
            let mut request = self.client.tag_resource().resource_arn(arn);
            for (key, value) in tags {
                let tag = sdk::Tag::builder()
                    .key(key)
                    .value(value)
                    .build()
                    .map_err(|e| Error::InvalidSpec(e.to_string()))?;
                request = request.tags(tag);
            }
            request.send().await.map_err(map_err)?;
            return Ok(());
        }
        let mut request = self.client.tag_stream().stream_arn(arn);
        for (key, value) in tags {
            request = request.tags(key, value);
        }
        request.send().await.map_err(map_err)?;
        Ok(())
    }

    async fn untag(&self, arn: &str, keys: &[String]) -> Result<()> {
        if is_channel_arn(arn) {
            self.client
                .untag_resource()
                .resource_arn(arn)
                .set_tag_key_list(Some(keys.to_vec()))
                .send()
                .await
                .map_err(map_err)?;
            return Ok(());
        }
        self.client
            .untag_stream()
            .stream_arn(arn)
            .set_tag_key_list(Some(keys.to_vec()))
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Every read reaches KVS: there is nothing to remember here.
    async fn list_tags(&self, arn: &str, _read: TagRead) -> Result<BTreeMap<String, String>> {
        let mut tags = BTreeMap::new();
        let mut next_token: Option<String> = None;
        loop {
            let (page_tags, token) = if is_channel_arn(arn) {
                let page = self
                    .client
                    .list_tags_for_resource()
                    .resource_arn(arn)
                    .set_next_token(next_token.take())
                    .send()
                    .await
                    .map_err(map_err)?;
                (page.tags().cloned(), page.next_token().map(str::to_string))
            } else {
                let page = self
                    .client
                    .list_tags_for_stream()
                    .stream_arn(arn)
                    .set_next_token(next_token.take())
                    .send()
                    .await
                    .map_err(map_err)?;
                (page.tags().cloned(), page.next_token().map(str::to_string))
            };
            tags.extend(page_tags.unwrap_or_default());
            match token {
                Some(token) if !token.is_empty() => next_token = Some(token),
                _ => return Ok(tags),
            }
        }
    }

    async fn delete_stream(&self, arn: &str, version: &str) -> Result<()> {
        self.client
            .delete_stream()
            .stream_arn(arn)
            .current_version(version)
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn get_data_endpoint(&self, arn: &str, api_name: &str) -> Result<String> {
        let out = self
            .client
            .get_data_endpoint()
            .stream_arn(arn)
            .api_name(ApiName::from(api_name))
            .send()
            .await
            .map_err(map_err)?;
        Ok(out.data_endpoint().unwrap_or_default().to_string())
    }

    async fn describe_storage_tier(&self, arn: &str) -> Result<Option<StorageTier>> {
        let out = self
            .client
            .describe_stream_storage_configuration()
            .stream_arn(arn)
            .send()
            .await
            .map_err(map_err)?;
        Ok(out
            .stream_storage_configuration()
            .and_then(|c| match c.default_storage_tier() {
                DefaultStorageTier::Hot => Some(StorageTier::Hot),
                DefaultStorageTier::Warm => Some(StorageTier::Warm),
                _ => None,
            }))
    }

    async fn update_storage_tier(&self, arn: &str, version: &str, tier: StorageTier) -> Result<()> {
        self.client
            .update_stream_storage_configuration()
            .stream_arn(arn)
            .current_version(version)
            .stream_storage_configuration(storage_configuration(tier)?)
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn describe_image_generation(&self, stream_arn: &str) -> Result<Option<ImageGeneration>> {
        let out = self
            .client
            .describe_image_generation_configuration()
            .stream_arn(stream_arn)
            .send()
            .await
            .map_err(map_err)?;
        Ok(out
            .image_generation_configuration()
            .map(from_sdk_image_generation))
    }

    async fn update_image_generation(
        &self,
        stream_arn: &str,
        config: &ImageGeneration,
    ) -> Result<()> {
        self.client
            .update_image_generation_configuration()
            .stream_arn(stream_arn)
            .image_generation_configuration(to_sdk_image_generation(config)?)
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn describe_notification(&self, stream_arn: &str) -> Result<Option<Notification>> {
        let out = self
            .client
            .describe_notification_configuration()
            .stream_arn(stream_arn)
            .send()
            .await
            .map_err(map_err)?;
        Ok(out.notification_configuration().map(|c| Notification {
            status: from_sdk_status(c.status()),
            destination_uri: c
                .destination_config()
                .map(|d| d.uri().to_string())
                .unwrap_or_default(),
        }))
    }

    async fn update_notification(&self, stream_arn: &str, config: &Notification) -> Result<()> {
        let destination = sdk::NotificationDestinationConfig::builder()
            .uri(&config.destination_uri)
            .build()
            .map_err(|e| Error::InvalidSpec(e.to_string()))?;
        let configuration = sdk::NotificationConfiguration::builder()
            .status(to_sdk_status(config.status))
            .destination_config(destination)
            .build()
            .map_err(|e| Error::InvalidSpec(e.to_string()))?;
        self.client
            .update_notification_configuration()
            .stream_arn(stream_arn)
            .notification_configuration(configuration)
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn describe_channel(&self, name: &str) -> Result<Option<Channel>> {
        match self
            .client
            .describe_signaling_channel()
            .channel_name(name)
            .send()
            .await
        {
            Ok(out) => Ok(out.channel_info().map(to_channel)),
            Err(err) => match map_err(err) {
                Error::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn list_channels_page(&self, token: Option<String>) -> Result<Page<Channel>> {
        let page = self
            .client
            .list_signaling_channels()
            .max_results(LIST_PAGE_SIZE)
            .set_next_token(token)
            .send()
            .await
            .map_err(map_err)?;
        Ok(Page {
            items: page.channel_info_list().iter().map(to_channel).collect(),
            next: next_token(page.next_token()),
        })
    }

    async fn create_channel(&self, channel: &NewChannel) -> Result<String> {
        let mut request = self
            .client
            .create_signaling_channel()
            .channel_name(&channel.name)
            .channel_type(ChannelType::SingleMaster)
            .single_master_configuration(
                SingleMasterConfiguration::builder()
                    .message_ttl_seconds(channel.message_ttl_seconds)
                    .build(),
            );
        for (key, value) in &channel.tags {
            let tag = sdk::Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|e| Error::InvalidSpec(e.to_string()))?;
            request = request.tags(tag);
        }
        let out = request.send().await.map_err(map_err)?;
        Ok(out.channel_arn().unwrap_or_default().to_string())
    }

    async fn update_channel(
        &self,
        arn: &str,
        version: &str,
        message_ttl_seconds: i32,
    ) -> Result<()> {
        self.client
            .update_signaling_channel()
            .channel_arn(arn)
            .current_version(version)
            .single_master_configuration(
                SingleMasterConfiguration::builder()
                    .message_ttl_seconds(message_ttl_seconds)
                    .build(),
            )
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn delete_channel(&self, arn: &str, version: &str) -> Result<()> {
        self.client
            .delete_signaling_channel()
            .channel_arn(arn)
            .current_version(version)
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn channel_endpoints(&self, arn: &str) -> Result<ChannelEndpoints> {
        let mut endpoints = ChannelEndpoints::default();
        for role in [ChannelRole::Master, ChannelRole::Viewer] {
            let configuration = SingleMasterChannelEndpointConfiguration::builder()
                .protocols(ChannelProtocol::Wss)
                .protocols(ChannelProtocol::Https)
                .role(role.clone())
                .build();
            let out = self
                .client
                .get_signaling_channel_endpoint()
                .channel_arn(arn)
                .single_master_channel_endpoint_configuration(configuration)
                .send()
                .await
                .map_err(map_err)?;
            let mut found = RoleEndpoints::default();
            for item in out.resource_endpoint_list() {
                let url = item.resource_endpoint().map(str::to_string);
                match item.protocol() {
                    Some(ChannelProtocol::Wss) => found.wss = url,
                    Some(ChannelProtocol::Https) => found.https = url,
                    _ => {}
                }
            }
            match role {
                ChannelRole::Master => endpoints.master = found,
                _ => endpoints.viewer = found,
            }
        }
        Ok(endpoints)
    }

    async fn describe_media_storage(
        &self,
        channel_arn: &str,
    ) -> Result<Option<MediaStorageConfig>> {
        let out = self
            .client
            .describe_media_storage_configuration()
            .channel_arn(channel_arn)
            .send()
            .await
            .map_err(map_err)?;
        Ok(out
            .media_storage_configuration()
            .map(|c| MediaStorageConfig {
                stream_arn: c.stream_arn().map(str::to_string),
                enabled: *c.status() == sdk::MediaStorageConfigurationStatus::Enabled,
            }))
    }

    async fn update_media_storage(
        &self,
        channel_arn: &str,
        config: &MediaStorageConfig,
    ) -> Result<()> {
        let status = if config.enabled {
            sdk::MediaStorageConfigurationStatus::Enabled
        } else {
            sdk::MediaStorageConfigurationStatus::Disabled
        };
        let configuration = sdk::MediaStorageConfiguration::builder()
            .set_stream_arn(config.stream_arn.clone())
            .status(status)
            .build()
            .map_err(|e| Error::InvalidSpec(e.to_string()))?;
        self.client
            .update_media_storage_configuration()
            .channel_arn(channel_arn)
            .media_storage_configuration(configuration)
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_error_codes_map_to_the_operator_error_families() {
        let cases = [
            ("ClientLimitExceededException", 400, "Throttled"),
            ("ResourceInUseException", 400, "ResourceInUse"),
            ("VersionMismatchException", 400, "VersionConflict"),
            ("InvalidArgumentException", 400, "InvalidSpec"),
            ("InvalidDeviceException", 400, "InvalidSpec"),
            (
                "TagsPerResourceExceededLimitException",
                400,
                "LimitExceeded",
            ),
            ("AccountStreamLimitExceededException", 400, "LimitExceeded"),
            ("AccessDeniedException", 401, "AccessDenied"),
            ("NotAuthorizedException", 401, "AccessDenied"),
            ("InternalFailure", 500, "AWSUnavailable"),
            ("SomethingNew", 400, "AWSError"),
        ];
        for (code, status, reason) in cases {
            let error = from_code(code.to_string(), "m".to_string(), status);
            assert_eq!(error.reason(), reason, "{code}");
        }
    }
}
