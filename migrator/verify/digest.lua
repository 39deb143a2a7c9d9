#!lua flags=no-writes
-- One record per key in KEYS, joined by "\n": "<type letter><digest>:<absolute expiry ms>".
--
-- The digest must be equal on a Redis source and a Valkey target holding the same value. Two kinds:
--   "d" + SHA-1 of DUMP without its 10-byte trailer (RDB version + CRC): cheap, and equal across
--       engines for the encodings measured equal (listpack hashes, lists, zsets, intsets);
--   "c" + SHA-1 of a canonical form (sorted fields/members, scores re-printed): for encodings whose DUMP
--       differs across engines (hashtable hashes and sets, small string sets, streams), or for every key
--       when ARGV[2] is "canonical" (the client asks for it when two "d" digests differ, in case only
--       the encodings differ).
-- Strings are "s" + SHA-1 of the value ("s*<length>" past ARGV[3] KB, see below). Collections longer
-- than ARGV[1] elements are not read here (that would block the server and copy the value into Lua):
-- their record is "<letter>*<length>" and their 1-based index is returned so the client compares them
-- in chunks. Missing keys are "-". (DUMP compresses as it serializes, yet measured cheaper than reading
-- a small collection's members into Lua.)
--
-- A call stops early once it has read about ARGV[3] elements (string KB count as elements), so one call
-- never blocks the server long; it returns how many keys it covered and the client calls again for the rest.
-- ARGV[4] "fast" reads strings with MGET in small chunks; "careful" (once the client has seen a large
-- string on this server) sizes them first. Both give the same records except for strings over the budget.
-- ARGV[5] "batch" returns one SHA-1 for all the keys instead of their records: a few bytes per batch for
-- a slow link, where the client asks for the records only when the two sides' batch digests differ. Both
-- sides must then use the same string mode: "fast" hashes chunks of raw values, "careful" the records.
-- ARGV[6] "fields" (a server whose INFO keyspace counts keys with hash-field TTLs) appends a hash's field
-- TTLs to its digest: "~" + SHA-1 of its fields' absolute expiries (HPEXPIRETIME), only when a field has
-- one, so a hash without field TTLs has the same record either way, on any server; "~*" for a hash too
-- long to read here (the client compares its field TTLs in chunks). Plain listpack hashes hold none.
local max_elements = tonumber(ARGV[1])
local canonical_only = ARGV[2] == 'canonical'
local budget = tonumber(ARGV[3])
local batch_only = ARGV[5] == 'batch'
local field_ttls = ARGV[6] == 'fields'
local call = redis.call
local SMALL = 128 -- elements assumed for a listpack/intset value, whose size the encoding bounds
local work = 0
local sha1 = redis.sha1hex
local big = {}

-- Length-prefixed parts make the concatenation unambiguous for binary data.
local function lp(s)
  return #s .. ':' .. s
end

local function sorted_pairs_digest(flat)
  local parts = {}
  for i = 1, #flat, 2 do
    parts[#parts + 1] = lp(flat[i]) .. lp(flat[i + 1])
  end
  table.sort(parts)
  return sha1(table.concat(parts))
end

local function sorted_digest(members)
  local parts = {}
  for i = 1, #members do
    parts[i] = lp(members[i])
  end
  table.sort(parts)
  return sha1(table.concat(parts))
end

local function list_digest(items)
  local parts = {}
  for i = 1, #items do
    parts[i] = lp(items[i])
  end
  return sha1(table.concat(parts))
end

-- ZRANGE order (score, then member) is the same on both sides; scores are printed differently by
-- Redis 7.0 ("1.1000000000000001") and Valkey ("1.1"), so they are re-printed from the parsed double.
local function zset_digest(flat)
  local parts = {}
  for i = 1, #flat, 2 do
    local score = tonumber(flat[i + 1])
    parts[#parts + 1] = lp(flat[i]) .. (score and string.format('%.17g', score) or flat[i + 1]) .. ';'
  end
  return sha1(table.concat(parts))
end

-- Field `name` of a flat XINFO reply.
local function info_field(flat, name)
  for i = 1, #flat, 2 do
    if flat[i] == name then
      return flat[i + 1]
    end
  end
end

-- Entries, plus what lets consumers carry on after the cut-over: the last generated id, each consumer
-- group's name, last delivered id, pending count and consumer count, and each consumer's pending count.
local function stream_digest(k)
  local parts = {info_field(redis.call('XINFO', 'STREAM', k), 'last-generated-id'), ';'}
  for _, group in ipairs(redis.call('XINFO', 'GROUPS', k)) do
    for _, field in ipairs({'name', 'last-delivered-id', 'pending', 'consumers'}) do
      parts[#parts + 1] = lp(tostring(info_field(group, field)))
    end
    -- Who owns the pending entries: a consumer reclaims its own after the cut-over.
    for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', k, info_field(group, 'name'))) do
      parts[#parts + 1] = lp(info_field(consumer, 'name')) .. lp(tostring(info_field(consumer, 'pending')))
    end
  end
  local entries = redis.call('XRANGE', k, '-', '+')
  for i = 1, #entries do
    local fields = entries[i][2]
    parts[#parts + 1] = lp(entries[i][1]) .. #fields .. ';'
    for j = 1, #fields do
      parts[#parts + 1] = lp(fields[j])
    end
  end
  return sha1(table.concat(parts))
end

-- type -> record letter, length command, canonical digest
local collections = {
  hash = {'h', 'HLEN', function(k) return sorted_pairs_digest(redis.call('HGETALL', k)) end},
  list = {'l', 'LLEN', function(k) return list_digest(redis.call('LRANGE', k, 0, -1)) end},
  set = {'t', 'SCARD', function(k) return sorted_digest(redis.call('SMEMBERS', k)) end},
  zset = {'z', 'ZCARD', function(k) return zset_digest(redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')) end},
  stream = {'x', 'XLEN', stream_digest},
}
-- Encodings whose DUMP is engine-independent. "small" ones are bounded by the *-max-listpack-entries
-- settings, so they need no length check before being read whole.
local dumpable = {
  hash = {listpack = 'small'},
  list = {listpack = 'small', quicklist = 'any'},
  set = {intset = 'any'},
  zset = {listpack = 'small', skiplist = 'any'},
  stream = {},
}

-- "~" + SHA-1 of the fields that have a TTL, sorted, each with its absolute expiry; "" when none has one.
local function field_ttl_digest(key, flat)
  local fields = {}
  for i = 1, #flat, 2 do
    fields[#fields + 1] = flat[i]
  end
  local expiries = redis.call('HPEXPIRETIME', key, 'FIELDS', #fields, unpack(fields))
  local parts = {}
  for i = 1, #expiries do
    if expiries[i] >= 0 then
      parts[#parts + 1] = lp(fields[i]) .. expiries[i] .. ';'
    end
  end
  if #parts == 0 then
    return ''
  end
  table.sort(parts)
  return '~' .. sha1(table.concat(parts))
end

local function collection_digest(i, key, kind)
  local spec = collections[kind]
  if spec == nil then
    big[#big + 1] = i
    return '?', kind
  end
  local volatile = field_ttls and kind == 'hash' -- may hold field TTLs, unless its encoding rules them out
  local encoding = (volatile or not canonical_only) and redis.call('OBJECT', 'ENCODING', key)
  volatile = volatile and encoding ~= 'listpack'
  local dump = not canonical_only and dumpable[kind][encoding]
  if dump == 'small' then
    work = work + SMALL
  else
    local length = redis.call(spec[2], key)
    if length > max_elements then
      big[#big + 1] = i
      return spec[1], '*' .. length .. (volatile and '~*' or '')
    end
    work = work + length
  end
  if dump then
    return spec[1], 'd' .. sha1(string.sub(redis.call('DUMP', key), 1, -11))
  end
  if volatile then
    local flat = redis.call('HGETALL', key)
    work = work + #flat / 2
    return spec[1], 'c' .. sorted_pairs_digest(flat) .. field_ttl_digest(key, flat)
  end
  return spec[1], 'c' .. spec[3](key)
end

local out, n, covered = {}, 0, #KEYS
local longest = 0 -- the longest string read: the client switches to "careful" once strings get large

local function add_record(i, key, letter, digest)
  -- Pieces go into one table joined once at the end: no intermediate string per key.
  out[n + 1], out[n + 2], out[n + 3], out[n + 4], out[n + 5] = letter, digest, ':', redis.call('PEXPIRETIME', key), '\n'
  n = n + 5
  if work >= budget then
    covered = i
    return true
  end
  return false
end

local function other_record(i, key, kind)
  if kind == 'none' then
    return '-', ''
  end
  return collection_digest(i, key, kind)
end

if ARGV[4] == 'careful' then
  -- Sizes first (TYPE and STRLEN read no value), so that the one MGET for the strings reads only what
  -- this call covers within its budget, never a whole batch of large values into Lua. A string longer
  -- than the budget is not read here either: "s*<length>", compared by the client in chunks.
  local max_string = budget * 1024
  local kinds, lengths, wanted = {}, {}, {}
  local last, string_work = #KEYS, 0
  for i, key in ipairs(KEYS) do
    local kind = redis.call('TYPE', key).ok
    kinds[i] = kind
    if kind == 'string' then
      local length = redis.call('STRLEN', key)
      lengths[i] = length
      longest = math.max(longest, length)
      if length <= max_string then
        wanted[#wanted + 1] = key
        string_work = string_work + 1 + length / 1024
        if string_work >= budget then
          last = i
          break
        end
      end
    end
  end
  local values = #wanted > 0 and redis.call('MGET', unpack(wanted)) or {}
  local fetched = 0
  covered = last
  for i = 1, last do
    local key, kind = KEYS[i], kinds[i]
    local letter, digest
    if kind == 'string' and lengths[i] > max_string then
      letter, digest = 's', '*' .. lengths[i]
      big[#big + 1] = i
      work = work + 1
    elseif kind == 'string' then
      fetched = fetched + 1
      letter, digest = 's', sha1(values[fetched])
      work = work + 1 + lengths[i] / 1024
    else
      letter, digest = other_record(i, key, kind)
    end
    if add_record(i, key, letter, digest) then
      break
    end
  end
else
  -- Fast path for the common case of small strings: MGET reads a few keys at a time (nil for a missing
  -- key or another type), so no TYPE/STRLEN call per string. At most CHUNK values are read ahead of the
  -- budget check; once the client sees a large string it asks for "careful" from then on. Inlined: this
  -- loop runs once per key of the whole keyspace.
  local CHUNK = 32
  local start, count = 1, #KEYS
  while start <= count do
    local last = math.min(start + CHUNK - 1, count)
    local values = call('MGET', unpack(KEYS, start, last))
    -- Batch digests hash each chunk's values whole (length-prefixed), one SHA-1 per chunk, not per key.
    local t, m = out, n
    if batch_only then
      t, m = {}, 0
    end
    for i = start, last do
      local key, value = KEYS[i], values[i - start + 1]
      if value then
        local size = #value
        if size > longest then
          longest = size
        end
        if batch_only then
          t[m + 1], t[m + 2], t[m + 3], t[m + 4] = 's', size, ':', value
          m = m + 4
        else
          t[m + 1], t[m + 2] = 's', sha1(value)
          m = m + 2
        end
        work = work + 1 + size / 1024
      else
        t[m + 1], t[m + 2] = other_record(i, key, call('TYPE', key).ok)
        m = m + 2
      end
      t[m + 1], t[m + 2], t[m + 3] = ':', call('PEXPIRETIME', key), '\n'
      m = m + 3
      if work >= budget then
        covered, last, count = i, i, i -- stop both loops
        break
      end
    end
    if batch_only then
      out[n + 1] = sha1(table.concat(t))
      n = n + 1
    else
      n = m
    end
    start = last + 1
  end
  if batch_only then
    return {sha1(table.concat(out)), big, covered, longest}
  end
end
out[n] = nil -- no trailing newline
local records = table.concat(out)
if batch_only then
  return {sha1(records), big, covered, longest}
end
return {records, big, covered, longest}
