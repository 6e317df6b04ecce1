-- Health of a kvs-operator.dev VideoStream or SignalingChannel (one script for both: the
-- operator's engine writes their conditions the same way), read from the status by the
-- kstatus conventions: status.observedGeneration, and the conditions Ready (the resource
-- is ACTIVE and equals the spec), Reconciling (the spec is being applied) and Stalled (the
-- operator cannot go on until someone changes the spec, the resource or IAM).
--
--   Suspended    Synced=False with reason Paused: the pause annotation stops every AWS call
--   Healthy      Ready=True for the current generation
--   Degraded     Stalled=True: the reason and message say what must change
--   Progressing  anything else: not reconciled yet, being created, updated or retried
--
-- An object being deleted gets a deletionMessage too: Argo CD shows it instead of its own
-- "Pending deletion" while the operator's finalizer deletes the resource.
--
-- It uses only what Argo CD's sandbox for argocd-cm scripts offers (no string or math
-- library), and reads numbers through tonumber: they may arrive as numbers or strings.

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

local function is_true(condition)
  return condition ~= nil and condition.status == "True"
end

-- "Reason: message", or whichever of the two there is.
local function describe(condition, fallback)
  local reason = condition.reason
  local message = condition.message
  if reason == nil or reason == "" then
    reason = nil
  end
  if message == nil or message == "" then
    message = nil
  end
  if reason ~= nil and message ~= nil then
    return tostring(reason) .. ": " .. tostring(message)
  end
  if message ~= nil then
    return tostring(message)
  end
  if reason ~= nil then
    return tostring(reason)
  end
  return fallback
end

local function assess(obj)
  local metadata = obj.metadata or {}
  local status = obj.status
  local deleting = metadata.deletionTimestamp ~= nil
  local conditions = nil
  if type(status) == "table" then
    conditions = status.conditions
  end

  local health = { status = "Progressing" }
  local kind = obj.kind or "object"
  local synced = find_condition(conditions, "Synced")
  local ready = find_condition(conditions, "Ready")
  local stalled = find_condition(conditions, "Stalled")
  local reconciling = find_condition(conditions, "Reconciling")
  local generation = tonumber(metadata.generation)
  local observed = nil
  if type(status) == "table" then
    observed = tonumber(status.observedGeneration)
  end

  if synced ~= nil and synced.status == "False" and synced.reason == "Paused" then
    health.status = "Suspended"
    health.message = describe(synced, "Paused")
  elseif ready == nil and stalled == nil and reconciling == nil then
    health.message = "Waiting for the operator to reconcile this " .. tostring(kind)
  elseif generation ~= nil and (observed == nil or observed < generation) then
    health.message = "Waiting for the operator to reconcile generation " .. tostring(generation)
  elseif is_true(stalled) then
    health.status = "Degraded"
    health.message = describe(stalled, "Stalled")
  elseif is_true(ready) then
    health.status = "Healthy"
    health.message = describe({ message = ready.message }, "Available")
    if synced ~= nil and synced.status == "False" then
      health.message = health.message .. "; the last reconcile failed and is being retried: "
        .. describe(synced, "Unknown")
    end
  elseif ready ~= nil then
    health.message = describe(ready, "Not ready")
  else
    health.message = describe(reconciling, "Reconciling")
  end

  if deleting then
    -- Deletion raises the generation: once it is observed, Ready says how cleanup goes.
    local observed_deletion = generation == nil or (observed ~= nil and observed >= generation)
    if health.status == "Degraded" then
      health.deletionMessage = "Deletion is blocked: " .. health.message
    elseif health.status == "Suspended" then
      health.deletionMessage = "Deletion waits: " .. health.message
    elseif ready ~= nil and observed_deletion then
      health.deletionMessage = "Being deleted: " .. describe({ message = ready.message }, "cleaning up")
    else
      health.deletionMessage = "Being deleted: waiting for the operator to clean up"
    end
    if health.status == "Healthy" then
      health.status = "Progressing"
    end
  end
  return health
end

return assess(obj)
