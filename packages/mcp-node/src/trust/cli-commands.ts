// `p2p-mcp trust …`: server-name pins and peer bans from the command line.
import type { CliHelpers } from '../control-plane/cli-commands.js'
import { callAndPrint } from '../control-plane/cli-commands.js'

export const TRUST_USAGE = `  trust get [-c <config> | --url <url>]         server-name pins, bans, names held, providers refused here (mesh__trust_get)
  trust pin <server> [--hash <h> | --from-peer <id>] [--publishers <id,id,…> | --any-publisher]
            [--expect-revision <n>] [-c | --url]  pin a name to a definition and/or to publisher peer ids (admins);
                                                 --from-peer takes what that peer announces now: the schema upgrade path
  trust unpin <server> [-c | --url]              remove a pin: the next definition is pinned on first use (admins)
  trust ban <peer-id> [--reason <text>] [-c | --url]
                                                 ban a peer mesh-wide: refused at connection, its records ignored (admins)
  trust unban <peer-id> [-c | --url]             lift a ban (admins)`

export interface TrustCliValues {
  hash?: string | undefined
  'from-peer'?: string | undefined
  publishers?: string | undefined
  'any-publisher'?: boolean | undefined
  'expect-revision'?: string | undefined
  reason?: string | undefined
}

export async function trustCommand (sub: string | undefined, arg: string | undefined, values: TrustCliValues, h: CliHelpers): Promise<void> {
  const need = (what: string): string => {
    if (arg === undefined) h.fail(2, `trust ${sub ?? ''} needs ${what}`)
    return arg
  }
  switch (sub) {
    case 'get': h.print(await callAndPrint(h, 'mesh__trust_get', {})); return
    case 'pin': {
      const args: Record<string, unknown> = { server: need('a server name: p2p-mcp trust pin <server> …') }
      if (values.hash !== undefined) args.hash = values.hash
      if (values['from-peer'] !== undefined) args.fromPeer = values['from-peer']
      if (values.publishers !== undefined && values['any-publisher'] === true) h.fail(2, 'give --publishers or --any-publisher, not both')
      if (values.publishers !== undefined) args.publishers = values.publishers.split(',').map((p) => p.trim()).filter((p) => p.length > 0)
      if (values['any-publisher'] === true) args.publishers = null
      if (values['expect-revision'] !== undefined) {
        const n = Number(values['expect-revision'])
        if (!Number.isSafeInteger(n) || n < 0) h.fail(2, `--expect-revision ${values['expect-revision']} is not a revision number`)
        args.expectRevision = n
      }
      if (!('hash' in args) && !('fromPeer' in args) && !('publishers' in args)) h.fail(2, 'trust pin needs --hash, --from-peer, --publishers or --any-publisher')
      h.print(await callAndPrint(h, 'mesh__trust_pin', args))
      return
    }
    case 'unpin': h.print(await callAndPrint(h, 'mesh__trust_unpin', { server: need('a server name') })); return
    case 'ban': h.print(await callAndPrint(h, 'mesh__peer_ban', { peerId: need('a peer id'), ...(values.reason === undefined ? {} : { reason: values.reason }) })); return
    case 'unban': h.print(await callAndPrint(h, 'mesh__peer_unban', { peerId: need('a peer id') })); return
    default: h.fail(2, `unknown trust command ${JSON.stringify(sub)}: get, pin, unpin, ban or unban`)
  }
}
