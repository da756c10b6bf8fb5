import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ErrorCode, FleetcastError } from '@fleetcast/contracts';
import { addressRefusal, AllowedNetworks } from '../deliveries/address-policy';

/**
 * Refuses a subscription URL that may not receive webhooks: a scheme other than http or https,
 * credentials in the URL, a host that does not resolve, or one that resolves to an address the
 * policy refuses (every address it resolves to is checked). The sender checks the address it
 * connects to again at each delivery, so a name that later resolves elsewhere gains nothing.
 */
export async function checkWebhookUrl(text: string, allowed: AllowedNetworks): Promise<URL> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw refused(`"${text}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw refused(`the scheme ${url.protocol} is not http or https`);
  if (url.username !== '' || url.password !== '') throw refused('credentials in the URL would be sent in clear to anyone who reads the subscription list; put them in the receiver, it verifies the signature');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (isIP(host) !== 0) addresses = [host];
  else {
    try {
      addresses = (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
    } catch (error) {
      throw refused(`${host} does not resolve (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  }
  for (const address of addresses) {
    const refusal = addressRefusal(address, allowed);
    if (refusal !== null) throw refused(host === address ? refusal : `${host} resolves to ${refusal}`);
  }
  return url;
}

function refused(message: string): FleetcastError {
  return new FleetcastError(ErrorCode.WebhookUrlRefused, message);
}
