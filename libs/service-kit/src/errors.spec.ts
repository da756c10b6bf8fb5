import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentsHost, BadRequestException, HttpException, NotFoundException, PayloadTooLargeException, UnsupportedMediaTypeException } from '@nestjs/common';
import { ErrorCode, FleetcastError } from '@fleetcast/contracts';
import type { Logger } from '@fleetcast/telemetry';
import { codeOfHttpStatus, HttpErrorFilter, httpStatusOf } from './errors';

describe('error code to HTTP status', () => {
  test('each code maps to its status', () => {
    const table: Array<[string, number]> = [
      [ErrorCode.ContractInvalid, 400],
      [ErrorCode.ContractUnsupportedVersion, 400],
      [ErrorCode.ContractUnknownSubject, 400],
      [ErrorCode.NoTargets, 400],
      [ErrorCode.Unauthorized, 401],
      [ErrorCode.Forbidden, 403],
      [ErrorCode.NotFound, 404],
      [ErrorCode.PackageNotFound, 404],
      [ErrorCode.ProfileNotFound, 404],
      [ErrorCode.TaskNotFound, 404],
      [ErrorCode.ManifestNotFound, 404],
      [ErrorCode.DeviceNotFound, 404],
      [ErrorCode.ContentNotFound, 404],
      [ErrorCode.Conflict, 409],
      [ErrorCode.PackageNotReady, 409],
      [ErrorCode.ContentMismatch, 409],
      [ErrorCode.PayloadTooLarge, 413],
      [ErrorCode.RangeNotSatisfiable, 416],
      [ErrorCode.HashMismatch, 422],
      [ErrorCode.SizeMismatch, 422],
      [ErrorCode.Internal, 500],
      [ErrorCode.Unavailable, 503],
    ];
    for (const [code, status] of table) assert.equal(httpStatusOf(code), status, code);
  });

  test('a code this process does not know is a 500, even one that names an object property', () => {
    for (const code of ['SOMETHING.NEW', '', 'constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      assert.equal(httpStatusOf(code), 500, JSON.stringify(code));
    }
  });

  test('every shared code has a status of its own choosing, never the 500 of an unknown code by accident', () => {
    for (const code of Object.values(ErrorCode)) {
      const status = httpStatusOf(code);
      assert.ok(status >= 400 && status < 600, `${code} -> ${status}`);
      if (status === 500) assert.equal(code, ErrorCode.Internal, `${code} falls through to 500`);
    }
  });
});

describe('HTTP status to error code (errors Nest raises itself)', () => {
  test('each status maps to its code', () => {
    const table: Array<[number, string]> = [
      [400, ErrorCode.ContractInvalid],
      [401, ErrorCode.Unauthorized],
      [403, ErrorCode.Forbidden],
      [404, ErrorCode.NotFound],
      [405, ErrorCode.ContractInvalid],
      [409, ErrorCode.Conflict],
      [413, ErrorCode.PayloadTooLarge],
      [415, ErrorCode.ContractInvalid],
      [416, ErrorCode.RangeNotSatisfiable],
      [422, ErrorCode.ContractInvalid],
      [429, ErrorCode.ContractInvalid],
      [500, ErrorCode.Internal],
      [502, ErrorCode.Internal],
      [503, ErrorCode.Unavailable],
      [504, ErrorCode.Internal],
      [302, ErrorCode.Internal],
    ];
    for (const [status, code] of table) assert.equal(codeOfHttpStatus(status), code, String(status));
  });

  test('a status with a code of its own comes back from that code', () => {
    for (const status of [400, 401, 404, 409, 413, 416, 500, 503]) assert.equal(httpStatusOf(codeOfHttpStatus(status)), status, String(status));
  });
});

interface LogCall {
  level: 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

function fakeLogger(calls: LogCall[]): Logger {
  const at = (level: LogCall['level']) => (fields: Record<string, unknown>, message: string) => void calls.push({ level, fields, message });
  return { warn: at('warn'), error: at('error') } as unknown as Logger;
}

/** The response fields the filter reads and what it did with them. */
class FakeResponse {
  headersSent = false;
  destroyed = false;
  statusCode?: number;
  body?: unknown;
  destroyCalls = 0;
  status(code: number) {
    this.statusCode = code;
    return { json: (body: unknown) => void (this.body = body) };
  }
  destroy() {
    this.destroyCalls += 1;
    this.destroyed = true;
  }
}

function run(exception: unknown, prepare: (res: FakeResponse) => void = () => undefined) {
  const calls: LogCall[] = [];
  const res = new FakeResponse();
  prepare(res);
  const host = { switchToHttp: () => ({ getResponse: () => res }) } as unknown as ArgumentsHost;
  new HttpErrorFilter(fakeLogger(calls)).catch(exception, host);
  return { res, calls };
}

describe('HTTP error filter', () => {
  test('a FleetcastError leaves with the status of its code and its body, details included', () => {
    const details = [{ path: 'headers.x-content-sha256', message: 'bad' }];
    const { res, calls } = run(new FleetcastError(ErrorCode.ContractInvalid, 'invalid header', details));
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.body, { code: ErrorCode.ContractInvalid, message: 'invalid header', details });
    assert.deepEqual(calls, [], 'a client error is not logged');
    assert.equal(run(new FleetcastError(ErrorCode.RangeNotSatisfiable, 'past the end')).res.statusCode, 416);
    assert.equal(run(new FleetcastError(ErrorCode.HashMismatch, 'no')).res.statusCode, 422);
  });

  test("Nest's own exceptions get the code of their status and keep their message", () => {
    const tooLarge = run(new PayloadTooLargeException('request body exceeds 1048576 bytes')).res;
    assert.equal(tooLarge.statusCode, 413);
    assert.deepEqual(tooLarge.body, { code: ErrorCode.PayloadTooLarge, message: 'request body exceeds 1048576 bytes' });
    assert.deepEqual(run(new NotFoundException('Cannot GET /v2/nothing')).res.body, { code: ErrorCode.NotFound, message: 'Cannot GET /v2/nothing' });
    assert.deepEqual(run(new UnsupportedMediaTypeException('use JSON')).res.body, { code: ErrorCode.ContractInvalid, message: 'use JSON' });
    // A validation pipe's message is one line per field.
    assert.deepEqual(run(new BadRequestException(['a: Required', 'b: Required'])).res.body, { code: ErrorCode.ContractInvalid, message: 'a: Required; b: Required' });
  });

  test('any other error is a 500 that hides its message and is logged with the error', () => {
    const error = new Error('secret database detail');
    const { res, calls } = run(error);
    assert.equal(res.statusCode, 500);
    assert.deepEqual(res.body, { code: ErrorCode.Internal, message: 'internal error' });
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.level, 'error');
    assert.equal(calls[0]!.fields.err, error, 'the error itself, so that its stack is logged');
  });

  test('a 503 is logged as a warning without a stack; other 5xx as errors', () => {
    const refused = run(new FleetcastError(ErrorCode.Unavailable, 'store is read-only'));
    assert.equal(refused.res.statusCode, 503);
    assert.deepEqual(refused.calls.map((c) => c.level), ['warn']);
    assert.equal(refused.calls[0]!.fields.err, undefined);
    assert.deepEqual(run(new HttpException('gateway timeout', 504)).calls.map((c) => c.level), ['error']);
    assert.deepEqual(run(new FleetcastError(ErrorCode.Internal, 'stored content is corrupt')).calls.map((c) => c.level), ['error']);
  });

  test('once the response has begun, or the client is gone, the connection is cut instead of answered', () => {
    for (const prepare of [(res: FakeResponse) => void (res.headersSent = true), (res: FakeResponse) => void (res.destroyed = true)]) {
      const { res, calls } = run(new Error('read failed mid-download'), prepare);
      assert.equal(res.statusCode, undefined, 'no status written');
      assert.equal(res.body, undefined, 'nothing appended to the body');
      assert.equal(res.destroyCalls, 1);
      assert.deepEqual(calls.map((c) => c.level), ['warn']);
    }
  });
});
