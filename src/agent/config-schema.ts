/**
 * The config schema of pfsagentd. Keys and defaults follow the PFSAgent README's [Agent] example
 * (conf/pfsagentd-reference.conf loads unchanged), plus the volume-server address keys.
 * Documented in docs/CONFIGURATION.md.
 */
import type { KeySpec, Schema } from '../common/config/index.js';
import { plugInKeys, storeAccessKeys } from '../common/objectstore/config-keys.js';

const leaseKeys: Record<string, KeySpec> = {
  LeaseRetryLimit: {
    type: 'int', default: '10', min: 0,
    doc: 'Retries of a lease request the volume server could not answer: its RPC deadline passed ' +
      '(`RetryRPCDeadlineIO`), or the mount was replaced meanwhile (eviction). Then the operation fails with EIO. ' +
      'The claim of leases and locks after a proxyfsd restart (Reclaim) is retried the same way.',
  },
  LeaseRetryDelay: { type: 'duration', default: '1s', doc: 'Delay before the first lease retry (none after an eviction: the new mount asks at once).' },
  LeaseRetryDelayVariance: {
    type: 'int', default: '25', min: 1, max: 100,
    doc: 'Random jitter applied to each lease retry delay, in percent of the delay.',
  },
  LeaseRetryExpBackoff: {
    type: 'float', default: '1.4', min: 1,
    doc: 'Factor by which the lease retry delay grows after each retry.',
  },
  SharedLeaseLimit: {
    type: 'int', default: '20000', min: 1,
    doc: 'Maximum shared leases held; beyond it the least recently used idle ones are released (their cached ' +
      'attributes, extent maps and kernel pages dropped).',
  },
  ExclusiveLeaseLimit: {
    type: 'int', default: '1000', min: 1,
    doc: 'Maximum exclusive leases held; beyond it the least recently used idle ones are demoted to shared (after ' +
      'writing back their buffered data).',
  },
};

export const agentSchema: Schema = {
  program: 'pfsagentd',
  sections: [
    {
      name: 'Agent',
      required: true,
      doc: 'Everything about one pfsagentd instance: which volume it mounts where, and how it caches and ' +
        'writes. One agent (and one config file) per mounted volume.',
      keys: {
        FUSEVolumeName: {
          type: 'string', default: 'CommonVolume',
          doc: 'The volume to mount (a `[Volume:<name>]` of proxyfsd); also the FUSE fsname and the log name.',
        },
        FUSEMountPointPath: {
          type: 'path', default: 'AgentMountPoint',
          doc: 'Directory where the volume appears; it must already exist. Relative to the config file\'s directory.',
        },
        FUSEUnMountRetryDelay: {
          type: 'duration', default: '100ms',
          doc: 'At start-up (a stale mount) and shutdown, delay between attempts to unmount a busy mount point.',
        },
        FUSEUnMountRetryCap: {
          type: 'int', default: '100', min: 1,
          doc: 'Unmount attempts before giving up (then a lazy unmount is done).',
        },
        ShutdownFlushTimeout: {
          type: 'duration', default: '60s', min: 1,
          doc: 'How long SIGTERM or SIGINT waits for buffered writes to reach the object store (each PUT retried as the ' +
            '`Swift*` keys say). Past it, or at a second signal, the agent gives them up (logged with each inode; the ' +
            'exit code is 1), unmounts and exits: stopping is bounded even when the store cannot take the data.',
        },
        ObjectStoreURL: {
          type: 'string', default: '', urlSchemes: ['file', 'swift', 's3'],
          doc: 'The volume\'s object store as this agent knows it (`file:///dir`, `swift://CONTAINER`, ' +
            '`s3://BUCKET[?endpoint=URL&region=R]`). When set, the volume server\'s Mount reply must name the same ' +
            'store (same kind, directory, container or bucket, S3 endpoint and region) or the agent refuses to mount; ' +
            'a spoofed volume server then cannot send the agent\'s data and signed requests elsewhere. Empty: the ' +
            'agent accepts `swift://CONTAINER` (the account comes from its own plug-in), `s3://BUCKET` without an ' +
            'endpoint parameter, and `file:///dir` only from a volume server on loopback and only for an existing, ' +
            'non-system directory that it and the directories above it belong to root or the agent\'s user and ' +
            'nobody else can write (docs/SECURITY.md §1); anything else needs this key.',
        },
        ...plugInKeys,
        ...storeAccessKeys,
        FetchExtentsFromFileOffset: {
          type: 'int', default: '32', min: 1,
          doc: 'On an extent-map miss, how many extents at and after the read offset are fetched in one RPC.',
        },
        FetchExtentsBeforeFileOffset: {
          type: 'int', default: '0', min: 0,
          doc: 'On an extent-map miss, how many extents before the read offset are fetched too (backward reads).',
        },
        ReadCacheLineSize: {
          type: 'bytes', default: '1048576', min: 4096,
          doc: 'Bytes read from an object per read-cache miss (one ranged GET), and the cache\'s unit.',
        },
        ReadCacheLineCount: {
          type: 'int', default: '1000', min: 1,
          doc: 'Read-cache capacity in lines; memory used is at most `ReadCacheLineSize` × this.',
        },
        ...leaseKeys,
        ExtentMapEntryLimit: {
          type: 'int', default: '1048576', min: 1,
          doc: 'Maximum extent-map entries cached over all files; beyond it the maps of the least recently ' +
            'used files are dropped.',
        },
        DirtyLogSegmentLimit: {
          type: 'int', default: '50', min: 1,
          doc: 'Maximum log segments being filled or uploaded at once; writes wait when it is reached.',
        },
        DirtyFileLimit: {
          type: 'int', default: '50', min: 1,
          doc: 'Maximum files with unflushed data; beyond it the least recently written file is flushed.',
        },
        MaxFlushSize: {
          type: 'bytes', default: '10485760', min: 4096,
          doc: 'A log segment is closed and uploaded as one object when it holds this many bytes.',
        },
        MaxFlushTime: {
          type: 'duration', default: '200ms', min: 1,
          doc: 'A log segment is closed and uploaded at most this long after its first write.',
        },
        LogFilePath: {
          type: 'path', default: '',
          doc: 'Log file, opened for append; empty means no log file. Reopened on SIGHUP (log rotation).',
        },
        LogToConsole: { type: 'bool', default: 'true', doc: 'Also log to stderr.' },
        TraceEnabled: {
          type: 'bool', default: 'false',
          doc: 'Log at trace level (every FUSE op and RPC) instead of info.',
        },
        HTTPServerIPAddr: {
          type: 'string', default: '127.0.0.1',
          doc: 'Address the embedded HTTP server listens on (`/health`, `/metrics`, `/stats`, `/config`, ' +
            '`/leases`; docs/OBSERVABILITY.md). The default, loopback, keeps it off the network (the ' +
            'reference\'s `0.0.0.0` listens on every interface): set an interface address when a monitoring ' +
            'host must reach it. Reads need no authentication; state changes need HTTPServerAdminTokenFile.',
        },
        HTTPServerAdminTokenFile: {
          type: 'string', default: '',
          doc: 'File holding the token that the HTTP server\'s state-changing requests (`POST /leases/demote`, ' +
            '`POST /leases/release`) must carry as `Authorization: Bearer TOKEN`. Readable by its owner only ' +
            '(mode 0600), at least 16 characters, one line. Empty: those requests are refused (403).',
        },
        HTTPServerTCPPort: {
          type: 'int', default: '9090', min: 0, max: 65535,
          doc: 'TCP port of the embedded HTTP server; `0` starts no server. Each agent on a host needs its own ' +
            'port. A port that cannot be bound is a start-up error.',
        },
        FUSESession: {
          type: 'enum', default: 'lowlevel', values: ['highlevel', 'lowlevel'],
          doc: 'How the agent serves the kernel. `lowlevel`: the inode-based session (libfuse 2.9 low-level ' +
            'API; node ids are volume inode numbers, each operation at most one RPC, hard links one kernel node, ' +
            'nanosecond timestamps; requests up to `FUSEMaxWrite` through the session\'s own channel). ' +
            '`highlevel`: fuse-native\'s path-based session (libfuse 2 high-level API; the agent resolves paths ' +
            'through its path cache), kept for one release as the fallback. docs/AGENT.md.',
        },
        ReadDirPlusEnabled: {
          type: 'bool', default: 'false',
          doc: 'READDIRPLUS (directory reads with attributes, so `ls -l` needs no lookup per entry). Not ' +
            'available yet: libfuse 2.9 offers it to neither session (it needs the agent\'s own FUSE channel, ' +
            'docs/FUSE-BINDING.md 8.7 step 2), so `true` is refused at start-up with an error rather than ignored.',
        },
        XAttrEnabled: {
          type: 'bool', default: 'true',
          doc: 'Serve extended attributes (`user.*`; `trusted.*` and `security.*` for root); when off, xattr ops ' +
            'answer ENOSYS and the kernel stops asking.',
        },
        EntryDuration: {
          type: 'duration', default: '0s',
          doc: 'How long the kernel may cache a name lookup, and how old an entry of the agent\'s path cache may ' +
            'be before it is looked up again: a name another agent changes is seen within it. `0s` makes the ' +
            'kernel ask every time (each lookup renews the agent\'s entry).',
        },
        AttrDuration: {
          type: 'duration', default: '0s',
          doc: 'How long the kernel may cache file attributes; `0s` makes it ask every time.',
        },
        AttrBlockSize: {
          type: 'bytes', default: '65536', min: 512,
          doc: 'Block size reported in `st_blksize` (the I/O size applications are advised to use).',
        },
        ReaddirMaxEntries: {
          type: 'int', default: '1024', min: 1,
          doc: 'Maximum directory entries fetched from the volume server per ReadDir RPC.',
        },
        FUSEMaxBackground: {
          type: 'int', default: '100', min: 1,
          doc: 'Maximum background requests (read-ahead, async writes) the kernel keeps outstanding.',
        },
        FUSECongestionThreshhold: {
          type: 'int', default: '0', min: 0,
          doc: 'Outstanding background requests at which the kernel reports congestion; `0` = kernel default ' +
            '(3/4 of `FUSEMaxBackground`). The misspelling is the reference\'s.',
        },
        FUSEMaxWrite: {
          type: 'bytes', default: '1048576', min: 4096,
          doc: 'Largest write request the kernel sends, in bytes. At most 1048576; above 131072 (libfuse 2\'s own ' +
            'limit) the agent negotiates FUSE_MAX_PAGES (Linux 4.20+, capped by fs.fuse.max_pages_limit) and uses whole 4096-byte pages.',
        },
        FUSEMaxRead: {
          type: 'bytes', default: '1048576', min: 4096,
          doc: 'Largest read request the kernel sends, in bytes (max_read; above 131072 only with FUSE_MAX_PAGES, as FUSEMaxWrite). ' +
            'The agent also raises the mount\'s kernel read-ahead window (its bdi\'s read_ahead_kb, root only) to this size, ' +
            'since buffered reads arrive as read-ahead requests.',
        },
        FUSEAllowOther: {
          type: 'bool', default: 'true',
          doc: 'Mount with `allow_other` so users other than the agent\'s can use the mount (non-root agents ' +
            'need `user_allow_other` in /etc/fuse.conf).',
        },
        RetryRPCPublicIPAddr: {
          type: 'string', default: '127.0.0.1',
          doc: 'Address (IP or DNS name) of the volume server (its `[RPCServer] IPAddr`).',
        },
        RetryRPCPort: {
          type: 'int', default: '32356', min: 1, max: 65535,
          doc: 'TCP port of the volume server (its `[RPCServer] TCPPort`).',
        },
        RetryRPCDeadlineIO: {
          type: 'duration', default: '60s', min: 1,
          doc: 'Deadline of one RPC: until then it is resent across reconnects and server restarts (the ' +
            'server\'s reply cache makes resending safe); past it the operation fails with EIO. Must be below the ' +
            'volume server\'s `ReplyCacheTTL` (the agent refuses to start otherwise).',
        },
        RetryRPCKeepAlivePeriod: {
          type: 'duration', default: '60s',
          doc: 'TCP keep-alive period of the connection to the volume server.',
        },
        RetryRPCCACertFilePath: {
          type: 'path', default: '',
          doc: 'PEM root CA that signed the volume server\'s certificate (`pfs ca init` makes `ca.crt`): when set ' +
            'the agent connects with TLS and verifies the server; empty means plain TCP.',
        },
        RetryRPCCertFilePath: {
          type: 'path', default: '',
          doc: 'PEM certificate of this agent, issued by the volume\'s CA (`pfs ca issue-agent`), for mutual TLS: the ' +
            'volume server then serves the agent from any host, for the volumes the certificate names ' +
            '(docs/SECURITY.md §2). Needs `RetryRPCCACertFilePath` and `RetryRPCKeyFilePath`; reconnects use it too.',
        },
        RetryRPCKeyFilePath: {
          type: 'path', default: '',
          doc: 'PEM private key of `RetryRPCCertFilePath`. Must be readable by its owner only (`chmod 600`): the agent ' +
            'refuses to start otherwise.',
        },
      },
    },
  ],
};
