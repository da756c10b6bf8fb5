import { IncomingMessage, ServerResponse } from 'node:http';
import { Controller, Delete, Get, Head, HttpCode, Inject, Param, Post, Put, Req, Res, UseGuards } from '@nestjs/common';
import { verifyDownloadToken } from '@fleetcast/content';
import { ORIGIN_CONFIG, OriginConfig } from '../config/origin.config';
import { ErrorCode, FleetcastError, sealContentSchema } from '@fleetcast/contracts';
import { BearerTokenGuard } from '../auth/bearer-token.guard';
import { sendJson } from '../http/send-json';
import { parseRequester, parseUploadDeclaration, Requester } from './content-headers';
import { planDownload } from './content-range';
import { ContentDescriptor, ContentService } from './content.service';
import { InvalidHeaderError, RangeNotSatisfiableError } from './content.exception';
import { pumpToResponse } from './response-pump';

function parseContentId(raw: string): string {
  if (/^[0-9a-f]{64}$/.test(raw)) return raw;
  const problem = 'must be a SHA-256 as 64 lowercase hex characters';
  throw new FleetcastError(ErrorCode.ContractInvalid, `invalid content ID ${JSON.stringify(raw.slice(0, 80))}: ${problem}`, [
    { path: 'params.contentId', message: problem },
  ]);
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  if (Array.isArray(value)) throw new InvalidHeaderError(name, 'given more than once');
  return value;
}

/** A seal request is a few hundred bytes; anything past this is not one. */
const MAX_JSON_BODY_BYTES = 4096;

/** Reads a small JSON body by hand: the app has no body parser (uploads take the raw stream). */
async function readSmallJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req) {
    length += (chunk as Buffer).length;
    if (length > MAX_JSON_BODY_BYTES) throw new FleetcastError(ErrorCode.PayloadTooLarge, `a JSON body of more than ${MAX_JSON_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new FleetcastError(ErrorCode.ContractInvalid, 'the body is not JSON');
  }
}

/**
 * The content API: uploads from the control plane, downloads by subnet representatives over the
 * WAN. Routes that stream take the raw request and response; the app has no body parser.
 */
@Controller('v1/content')
export class ContentHttpController {
  constructor(
    private readonly content: ContentService,
    @Inject(ORIGIN_CONFIG) private readonly config: OriginConfig,
  ) {}

  /**
   * Who is downloading. With a download-token secret configured, only a device holding a valid
   * token for this content (issued by the tasks service to a target of a task with it) is served,
   * and the bytes count against the device the token names; the subnet is as the device declares it.
   */
  private requesterOf(req: IncomingMessage, contentId: string): Requester {
    const declared = parseRequester(req.headers);
    const secret = this.config.downloadTokenSecret;
    if (!secret) return declared;
    const token = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(headerOf(req, 'authorization') ?? '')?.[1];
    if (!token) throw new FleetcastError(ErrorCode.DownloadUnauthorized, 'downloads need a download token (Authorization: Bearer <token>), issued by the control plane to devices targeted by a task');
    const check = verifyDownloadToken(secret, token, contentId, new Date());
    if (!check.ok) throw new FleetcastError(ErrorCode.DownloadUnauthorized, `download token refused: ${check.reason}`);
    return { ...declared, device: check.deviceId };
  }

  /** Streams the raw body into the store. 201 when stored, 200 when the store already had it. */
  @Put()
  @UseGuards(BearerTokenGuard)
  async upload(@Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    const declared = parseUploadDeclaration(req.headers);
    if (req.readableEnded || (req as { body?: unknown }).body !== undefined) {
      // A body parser read the stream first: storing what is left would store the wrong bytes.
      throw new FleetcastError(ErrorCode.Internal, 'the upload body was consumed before the handler; create the app without a body parser');
    }
    const { descriptor, created } = await this.content.ingest(req, declared);
    sendJson(res, created ? 201 : 200, descriptor, { Location: `/v1/content/${descriptor.contentId}` });
  }

  /** Removes content whose package was deleted. 204, or 404 when the store does not have it. */
  @Delete(':contentId')
  @UseGuards(BearerTokenGuard)
  @HttpCode(204)
  async remove(@Param('contentId') contentId: string): Promise<void> {
    await this.content.remove(parseContentId(contentId));
  }

  /**
   * Seals stored content for a confidential package (the tasks service asks, with the key it made);
   * answers the sealed content's descriptor, 201. The key is in the body, never in a header or URL,
   * so that no access log or trace attribute records it.
   */
  @Post(':contentId/seal')
  @UseGuards(BearerTokenGuard)
  async seal(@Param('contentId') contentId: string, @Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    const id = parseContentId(contentId);
    const parsed = sealContentSchema.safeParse(await readSmallJson(req));
    if (!parsed.success) {
      throw new FleetcastError(ErrorCode.ContractInvalid, 'invalid seal request', parsed.error.issues.map((i) => ({ path: `body.${i.path.join('.')}`, message: i.message })));
    }
    const descriptor = await this.content.seal(id, parsed.data.packageId, Buffer.from(parsed.data.key, 'base64'), parsed.data.removeSource);
    sendJson(res, 201, descriptor, { Location: `/v1/content/${descriptor.contentId}` });
  }

  /** The block hashes computed at upload, so a control plane can sign a manifest again. */
  @Get(':contentId/blocks')
  blocks(@Param('contentId') contentId: string): Promise<ContentDescriptor> {
    return this.content.descriptorOf(parseContentId(contentId));
  }

  @Head(':contentId')
  head(@Param('contentId') contentId: string, @Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    return this.serve('HEAD', contentId, req, res);
  }

  @Get(':contentId')
  download(@Param('contentId') contentId: string, @Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    return this.serve('GET', contentId, req, res);
  }

  private async serve(method: 'GET' | 'HEAD', rawId: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const contentId = parseContentId(rawId);
    const requester = this.requesterOf(req, contentId);
    const size = await this.content.sizeOf(contentId);
    const plan = planDownload({
      method,
      contentId,
      size,
      range: headerOf(req, 'range'),
      ifRange: headerOf(req, 'if-range'),
      ifNoneMatch: headerOf(req, 'if-none-match'),
    });
    if (plan.status === 416) {
      // The error filter answers with the code's status and body; the headers set here go with it.
      for (const [name, value] of Object.entries(plan.headers)) res.setHeader(name, value);
      throw new RangeNotSatisfiableError(contentId, size);
    }
    res.writeHead(plan.status, plan.headers);
    if (plan.body === null) {
      res.end();
      return;
    }
    await pumpToResponse(this.content.read(contentId, plan.body), res, (bytes) => this.content.recordServed(requester, bytes));
  }
}
