import { describe, expect, it } from 'vitest';
import { connectErrorField, isAppError, syncErrorView, toAppError } from './errors';

describe('isAppError', () => {
  it('accepts the contract shape only', () => {
    expect(isAppError({ kind: 'offline', message: 'Check your connection.' })).toBe(true);
    expect(isAppError({ kind: 'io', message: 'cannot write /ro/x.csv' })).toBe(true);
    expect(isAppError({ kind: 'nope', message: 'x' })).toBe(false);
    expect(isAppError({ kind: 'offline' })).toBe(false);
    expect(isAppError('offline')).toBe(false);
    expect(isAppError(null)).toBe(false);
  });
});

describe('toAppError', () => {
  it('keeps AppErrors', () => {
    const e = { kind: 'unauthorized' as const, message: 'Sign in again.' };
    expect(toAppError(e)).toBe(e);
  });
  it('turns strings and exceptions into internal errors', () => {
    expect(toAppError('command children not found')).toEqual({ kind: 'internal', message: 'command children not found' });
    expect(toAppError(new Error('boom'))).toEqual({ kind: 'internal', message: 'boom' });
    expect(toAppError(undefined).kind).toBe('internal');
    expect(toAppError({ message: 'odd' })).toEqual({ kind: 'internal', message: 'odd' });
  });
});

describe('connectErrorField', () => {
  it('puts each error under the field it concerns', () => {
    expect(connectErrorField('bad_url')).toBe('url');
    expect(connectErrorField('unauthorized')).toBe('token');
    expect(connectErrorField('offline')).toBe('form');
    expect(connectErrorField('not_usage_desk')).toBe('form');
    expect(connectErrorField('version_mismatch')).toBe('form');
  });
});

describe('syncErrorView', () => {
  it('shows offline as neutral cached-data notice', () => {
    const v = syncErrorView({ kind: 'offline', message: 'x' });
    expect(v.tone).toBe('neutral');
    expect(v.title).toBe('Offline — showing cached data');
    expect(v.action).toBeNull();
  });
  it('offers to sign in again when unauthorized', () => {
    const v = syncErrorView({ kind: 'unauthorized', message: 'The token was revoked; sign in again.' });
    expect(v.action).toBe('sign_in');
    expect(v.detail).toBe('The token was revoked; sign in again.');
  });
  it('shows other failures with their message', () => {
    const v = syncErrorView({ kind: 'cache', message: 'The cache is damaged; clear it in Settings.' });
    expect(v.tone).toBe('danger');
    expect(v.detail).toContain('clear it');
    expect(syncErrorView({ kind: 'cancelled', message: '' }).tone).toBe('neutral');
  });
});
