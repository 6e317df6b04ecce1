//! The input shapes of the resource-tag operations, with the model's constraints.

use crate::services::validate::{NEXT_TOKEN, RESOURCE_ARN, TagInput, TagKeys, TagList};

input! {
    pub struct TagResourceInput {
        resource_arn: String = "ResourceARN", required RESOURCE_ARN;
        tags: Vec<TagInput> = "Tags", required TagList { min: 1 };
    }
}

input! {
    pub struct UntagResourceInput {
        resource_arn: String = "ResourceARN", required RESOURCE_ARN;
        tag_key_list: Vec<String> = "TagKeyList", required TagKeys;
    }
}

input! {
    pub struct ListTagsForResourceInput {
        resource_arn: String = "ResourceARN", required RESOURCE_ARN;
        next_token: String = "NextToken", optional NEXT_TOKEN;
    }
}
