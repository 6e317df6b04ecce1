-- Argo CD health check for kvs-operator.dev/VideoStream.
--
-- Install it as resource.customizations.health.kvs-operator.dev_VideoStream in argocd-cm
-- (see argocd-cm.yaml beside this file and docs/argocd.md).
--
-- Argo CD runs a health script configured in argocd-cm in gopher-lua (Lua 5.1) with only
-- the base, table and package libraries and a reduced os: no string or math library. So
-- this script uses nothing but base functions (ipairs, tonumber, tostring, type) and the
-- `..` operator. The resource arrives as the global `obj`; numbers may arrive as numbers or
-- as strings, so every number goes through tonumber.
--
-- What it returns:
--   Healthy      Ready=True for the current spec: the stream is ACTIVE and matches it.
--   Progressing  the operator has not caught up with the spec yet, AWS is still creating,
--                updating or deleting the stream, or a transient error will be retried.
--   Degraded     the operator cannot go on until someone acts: a terminal error (the spec
--                or the stream must change) or a permission error (IAM must change), or a
--                failure reason this script does not know.
-- Never Suspended (a VideoStream cannot be paused) and never Missing: Argo CD itself
-- reports Missing when the object does not exist in the cluster.

-- Failure reasons of the Synced and Ready conditions, by how the operator retries them
-- (src/error.rs). tests/argocd_fixtures.rs checks these three lists against the operator.
local RETRYABLE = {
  Throttled = true,
  ResourceInUse = true,
  VersionConflict = true,
  NotFound = true,
  AWSUnavailable = true,
  AWSError = true,
  KubernetesError = true,
  NotLeader = true,
}
local TERMINAL = {
  InvalidSpec = true,
  LimitExceeded = true,
  NotOwned = true,
  Immutable = true,
  ConfigError = true,
  NameNotPermitted = true,
  AdoptionNotPermitted = true,
  NoAccountBinding = true,
  AccountBindingConflict = true,
  AccountChanged = true,
}
local PERMISSION = {
  AccessDenied = true,
}

local function result(status, message)
  return { status = status, message = message }
end

-- The condition of a type, or nil.
local function find_condition(conditions, wanted)
  if type(conditions) ~= "table" then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if type(condition) == "table" and condition.type == wanted then
      return condition
    end
  end
  return nil
end

-- "Reason: message", for the message Argo CD shows.
local function describe(condition)
  local text = tostring(condition.reason or "Unknown")
  if condition.message ~= nil and condition.message ~= "" then
    text = text .. ": " .. tostring(condition.message)
  end
  return text
end

-- A condition's message, or fallback when it has none.
local function message_or(condition, fallback)
  if condition.message == nil or condition.message == "" then
    return fallback
  end
  return tostring(condition.message)
end

local function is_false(condition)
  return condition ~= nil and condition.status == "False"
end

-- A failure reason that retrying alone will not fix (terminal, permission or unknown).
local function blocks(reason)
  return TERMINAL[reason] == true or PERMISSION[reason] == true or RETRYABLE[reason] ~= true
end

local function assess(obj)
  local metadata = obj.metadata or {}
  local status = obj.status
  local deleting = metadata.deletionTimestamp ~= nil
  local generation = tonumber(metadata.generation)

  -- Whether an observedGeneration is that of the current spec.
  local function current(observed)
    observed = tonumber(observed)
    return generation == nil or (observed ~= nil and observed >= generation)
  end
  -- A condition without observedGeneration counts as written with the status.
  local function fresh(condition)
    return condition.observedGeneration == nil or current(condition.observedGeneration)
  end

  local conditions = nil
  if type(status) == "table" then
    conditions = status.conditions
  end
  local ready = find_condition(conditions, "Ready")
  local synced = find_condition(conditions, "Synced")

  if ready == nil and synced == nil then
    if deleting then
      return result("Progressing", "Being deleted: waiting for the operator to clean up")
    end
    return result("Progressing", "Waiting for the operator to reconcile this VideoStream")
  end

  if not current(status.observedGeneration) then
    local message = "Waiting for the operator to reconcile generation " .. tostring(generation)
    if deleting then
      message = "Being deleted: waiting for the operator to clean up"
    end
    return result("Progressing", message)
  end

  if deleting then
    if is_false(synced) and blocks(synced.reason) then
      return result("Degraded", "Deletion is blocked: " .. describe(synced))
    end
    if is_false(synced) then
      return result("Progressing", "Being deleted: retrying after " .. describe(synced))
    end
    if ready ~= nil and ready.reason == "Deleting" then
      return result("Progressing", "Being deleted: " .. message_or(ready, "deleting the stream"))
    end
    return result("Progressing", "Being deleted: waiting for the operator to clean up")
  end

  -- Errors that need a person: the operator stops retrying them quickly.
  if is_false(synced) and blocks(synced.reason) then
    return result("Degraded", describe(synced))
  end
  if is_false(ready) and fresh(ready)
      and (TERMINAL[ready.reason] or PERMISSION[ready.reason]) then
    return result("Degraded", describe(ready))
  end

  if status.awsStatus == "DELETING" then
    return result("Progressing",
      "The stream is being deleted outside Kubernetes; the operator creates it again once it is gone")
  end

  -- From here on a Synced=False is a transient error the operator retries with backoff.
  local retrying = is_false(synced)
  if ready ~= nil and ready.status == "True" and fresh(ready) then
    if retrying then
      return result("Healthy",
        "Available; the last reconcile failed and is being retried: " .. describe(synced))
    end
    return result("Healthy", message_or(ready, "Available"))
  end
  if retrying then
    return result("Progressing", "Retrying after " .. describe(synced))
  end
  if ready == nil then
    return result("Progressing", "Waiting for the operator to report readiness")
  end
  if ready.status == "True" then
    return result("Progressing", "Waiting for the operator to apply generation " .. tostring(generation))
  end
  return result("Progressing", describe(ready))
end

return assess(obj)
