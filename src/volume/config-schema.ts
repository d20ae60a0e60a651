/** The config schema of proxyfsd, the volume server. Documented in docs/CONFIGURATION.md. */
import type { Schema } from '../common/config/index.js';
import { plugInKeys, storeAccessKeys } from '../common/objectstore/config-keys.js';

export const volumeServerSchema: Schema = {
  program: 'proxyfsd',
  sections: [
    {
      name: 'Volume:*',
      required: true,
      doc: 'One section per served volume; the part after `Volume:` is the volume name that agents ' +
        'mount (their `[Agent] FUSEVolumeName`).',
      keys: {
        MetadataPath: {
          type: 'path', required: true,
          doc: 'The SQLite database file holding the volume\'s metadata (inodes, directories, extent maps, ' +
            'object accounting). Created by `pfs format`.',
        },
        ObjectStoreURL: {
          type: 'string', required: true, urlSchemes: ['file', 'swift', 's3'],
          doc: 'Where the volume\'s objects live. `file:///absolute/dir` stores them as files in a local ' +
            'directory; `swift://CONTAINER` in a Swift container of the account the auth plug-in\'s StorageURL ' +
            'names; `s3://BUCKET` (optionally `?endpoint=URL&region=R`) in an S3 bucket. Agents mounting the ' +
            'volume reach the same container or bucket with their own plug-in. `pfs format` creates the ' +
            'directory, container or bucket. The loader only checks the scheme; the object store checks the rest.',
        },
        DeadObjectDeleteDelay: {
          type: 'duration', default: '10s',
          doc: 'How long an object with no live bytes is kept before it is deleted, so that agents holding ' +
            'a just-stale extent map can finish their reads.',
        },
        GCInterval: {
          type: 'duration', default: '1s', min: 1,
          doc: 'How often the garbage collector looks for dead objects whose delay has passed and deletes them.',
        },
        CompactionInterval: {
          type: 'duration', default: '60s',
          doc: 'How often compaction runs; `0` disables compaction.',
        },
        CompactionLiveRatio: {
          type: 'float', default: '0.25', min: 0, max: 1,
          doc: 'Objects whose live bytes divided by their size is below this ratio are rewritten by ' +
            'compaction (their live bytes copied to a new object, the old one left to die).',
        },
        CompactionMaxBytesPerRun: {
          type: 'bytes', default: '256MiB', min: 1,
          doc: 'Upper bound on the live bytes one compaction run copies, to limit its I/O.',
        },
        ProvisionedObjectTTL: {
          type: 'duration', default: '1h',
          doc: 'An object number provisioned for an agent and never reported by a Wrote RPC is deleted this ' +
            'long after the mount it was provisioned for ended (unmounted, dropped after MountGracePeriod, or ' +
            'evicted); while the mount is live its numbers never expire. The Mount reply tells agents this value: ' +
            'they use a pooled number only within half of it.',
        },
        ...plugInKeys,
        ...storeAccessKeys,
        CheckAuthTokens: {
          type: 'bool', default: 'true',
          doc: 'For a `swift://` or `s3://` volume: agents must prove access to the volume\'s container or bucket ' +
            'with an object-store token in Mount (Swift: their X-Auth-Token; S3: a presigned HEAD of the bucket), which ' +
            'proxyfsd tries against the store of its own configuration at Mount and again every AuthTokenCheckPeriod; ' +
            'a mount whose token the store refuses gets `PFS_ERR_AUTH_TOKEN_REJECTED` until its agent renews it ' +
            '(docs/SECURITY.md §4.1). `false` lets any allowed peer mount without one (an upgrade from agents that send ' +
            'none). No effect on `file://` volumes.',
        },
        AuthTokenCheckPeriod: {
          type: 'duration', default: '60s',
          doc: 'How often a mount\'s object-store token is tried again: a call made when the last check is older than ' +
            'this is served at once and starts one check in the background (calls never wait for it). A store that ' +
            'cannot be reached is not a refusal: the mount keeps its rights and the check is tried again after a tenth ' +
            'of this. `0`: tokens are checked at Mount and RenewMount only.',
        },
        Capacity: {
          type: 'bytes', default: '0', min: 0,
          doc: 'Bytes of file data the volume may hold (`10GiB`); `0`: no limit. A write-back that would take the volume ' +
            'past it is refused, and the application gets `ENOSPC` from `write` (soon after), `fsync` or `close`; ' +
            'overwrites that do not grow the volume still work. `df` on a mount shows it as the size.',
        },
        InodeLimit: {
          type: 'int', default: '0', min: 0,
          doc: 'Files, directories and links (inodes) the volume may hold, the root included; `0`: no limit. ' +
            'Creating one more is `ENOSPC`. `df -i` shows it.',
        },
        MountGracePeriod: {
          type: 'duration', default: '60s',
          doc: 'A mount whose agent stays disconnected this long is dropped and its open files released; ' +
            'an agent that reconnects within it keeps its mount.',
        },
      },
    },
    {
      name: 'RPCServer',
      doc: 'The RPC listener that agents connect to (their `RetryRPCPublicIPAddr` and `RetryRPCPort`).',
      keys: {
        IPAddr: {
          type: 'string', default: '127.0.0.1',
          doc: 'Address to listen on; `0.0.0.0` for all IPv4 interfaces.',
        },
        TCPPort: {
          type: 'int', default: '32356', min: 0, max: 65535,
          doc: 'TCP port to listen on; `0` picks a free port (tests).',
        },
        CertFilePath: {
          type: 'path', default: '',
          doc: 'PEM certificate chain for TLS (`pfs ca issue-server` makes one). Empty: plain TCP. Set together with `KeyFilePath`.',
        },
        KeyFilePath: {
          type: 'path', default: '',
          doc: 'PEM private key matching `CertFilePath`; refused at start when its group or other users may access it.',
        },
        ClientCAFilePath: {
          type: 'path', default: '',
          doc: 'PEM certificate(s) of the CA(s) that sign agent certificates (`pfs ca init`, `pfs ca issue-agent`); needs ' +
            '`CertFilePath`. When set, TLS asks every peer for a client certificate: a peer that presents one that ' +
            'verifies is served whatever its address, as the agent its certificate names, for the volumes it names ' +
            '(docs/SECURITY.md §2); one that presents another certificate is refused and logged; one that presents ' +
            'none is identified as without it (a local uid, else refused unless `AllowUnauthenticatedTCP`).',
        },
        AllowedUIDs: {
          type: 'string', default: '', pattern: { regex: '\\s*(\\d{1,10}\\s*(,\\s*\\d{1,10}\\s*)*)?', means: 'a comma-separated list of uids' },
          doc: 'Local users whose agents may connect, as a comma-separated list of uids; root and the uid proxyfsd ' +
            'runs as are always allowed. A local peer is identified by the kernel\'s owner of its socket ' +
            '(docs/SECURITY.md); any other local user is refused (`PFS_ERR_RPC_REFUSED`) and logged. An agent of a ' +
            'listed uid (other than root and proxyfsd\'s own) acts only as that user: calls with another user\'s or ' +
            'group\'s credentials get EACCES.',
        },
        AllowUnauthenticatedTCP: {
          type: 'bool', default: 'false',
          doc: 'Serve agents on other hosts over plain TCP or TLS without a client certificate, where nothing vouches for the peer: ' +
            'anyone who reaches the port can then mount any volume. Off by default: such connections are refused ' +
            'and logged. Only for a network where every host is trusted; otherwise give agents certificates (`ClientCAFilePath`).',
        },
        ReplyCacheTTL: {
          type: 'duration', default: '10m',
          doc: 'How long the reply to a completed request is kept, so that a request retried by an agent ' +
            '(after a reconnect) gets the same answer instead of running twice.',
        },
        KeepAlivePeriod: { type: 'duration', default: '60s', doc: 'TCP keep-alive period of accepted connections.' },
        MaxConnections: {
          type: 'int', default: '1024', min: 1,
          doc: 'Connections open at once, from any peer; more are closed as they arrive and logged (one line every 10 s).',
        },
        MaxConnectionsPerPeer: {
          type: 'int', default: '64', min: 1,
          doc: 'Connections of one peer (a uid on this machine, an agent certificate\'s name; all unauthenticated peers count as one); more are ' +
            'refused (`PFS_ERR_RPC_REFUSED`) and logged. An agent uses one.',
        },
        FrameDeadline: {
          type: 'duration', default: '30s', min: 1,
          doc: 'A request frame must arrive whole within this of its first byte; a peer that sends slower is disconnected.',
        },
        ReplyCacheSizePerClient: {
          type: 'bytes', default: '64MiB', min: 65536,
          doc: 'Completed replies kept in memory for one client, for its resends; beyond it the oldest are dropped ' +
            '(replies of changes stay in the database, other calls are simply run again).',
        },
        MaxFrameSize: {
          type: 'bytes', default: '16MiB', min: 65536,
          doc: 'Largest request or reply frame accepted; a larger frame is a protocol error and closes the connection.',
        },
      },
    },
    {
      name: 'HTTPServer',
      doc: 'The HTTP admin server: volumes, mounts, GC progress, `/metrics` (Prometheus), `/stats`, `/health` ' +
        '(docs/OBSERVABILITY.md). Off unless `TCPPort` is set; it listens on loopback by default.',
      keys: {
        IPAddr: {
          type: 'string', default: '127.0.0.1',
          doc: 'Address to listen on. It serves mount IDs and volume layout without authentication: keep it on ' +
            'loopback or a management network.',
        },
        TCPPort: {
          type: 'int', default: '0', min: 0, max: 65535,
          doc: 'TCP port to listen on; `0` (the default) starts no HTTP server.',
        },
      },
    },
    {
      name: 'Leases',
      doc: 'The lease manager (docs/LEASES.md): how fast leases are revoked from other agents, when an ' +
        'unresponsive agent is evicted, and how many leases each volume tracks.',
      keys: {
        MinLeaseDuration: {
          type: 'duration', default: '250ms',
          doc: 'A lease granted less than this long ago is not interrupted: a conflicting request waits until ' +
            'it has been held this long, so two agents cannot pass a lease back and forth faster.',
        },
        LeaseInterruptInterval: {
          type: 'duration', default: '250ms', min: 1,
          doc: 'Interval between repeated LeaseInterrupt upcalls to an agent that has not yet demoted or released ' +
            'the lease another agent waits for.',
        },
        LeaseInterruptLimit: {
          type: 'int', default: '20', min: 1,
          doc: 'Interrupts sent before an agent that answers none of them (and one more interval) is evicted: its ' +
            'mount loses every lease, lock and open file, and every later request with its mount ID fails with ' +
            '`PFS_ERR_MOUNT_EVICTED`.',
        },
        MaxLeases: {
          type: 'int', default: '100000', min: 1,
          doc: 'Leases (mount, file pairs) one volume holds; beyond it the least recently used idle leases are ' +
            'interrupted (release) to bound the server\'s lease memory.',
        },
        MaxLeaseWait: {
          type: 'duration', default: '30s', min: 1,
          doc: 'Upper bound on how long a lease request may wait. proxyfsd refuses to start when ' +
            '`MinLeaseDuration + LeaseInterruptLimit × LeaseInterruptInterval` exceeds it. Agents\' ' +
            '`RetryRPCDeadlineIO` must exceed it too.',
        },
        ReclaimPeriod: {
          type: 'duration', default: '10s',
          doc: 'After proxyfsd starts, how long the mounts of before the start may claim the leases and locks they ' +
            'held (leases and locks live in memory) while every other lease and lock request waits. It ends early ' +
            'once every such mount has claimed. A mount that claims later keeps what nobody was granted meanwhile ' +
            'and is evicted otherwise. Must exceed the agents\' reconnect time (their reconnect delay is at most 2 s). ' +
            '`0s` accepts no claims: after a restart every agent that held a lease or lock is evicted at its first ' +
            'claim (its buffered writes fail with EIO), which is safe but loses their buffered data.',
        },
      },
    },
    {
      name: 'Logging',
      doc: 'Where proxyfsd logs (JSON lines, via pino).',
      keys: {
        LogFilePath: {
          type: 'path', default: '',
          doc: 'Log file, opened for append; empty means no log file. Reopened on SIGHUP (log rotation).',
        },
        LogToConsole: { type: 'bool', default: 'true', doc: 'Also log to stderr.' },
        TraceEnabled: { type: 'bool', default: 'false', doc: 'Log at trace level (every RPC) instead of info.' },
      },
    },
  ],
};
