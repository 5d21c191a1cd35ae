import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NODE_TOOLS, PreflightError, missingTools, preflight } from '../../src/agent/preflight.js';

describe('agent preflight', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'vxm-preflight-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** A PATH directory holding executables named `tools` (and `sysctl` as a non-executable file). */
  function bin(name: string, tools: string[]): string {
    const dir = path.join(root, name);
    mkdirSync(dir);
    for (const t of tools) {
      writeFileSync(path.join(dir, t), '#!/bin/sh\n');
      chmodSync(path.join(dir, t), 0o755);
    }
    return dir;
  }

  it('finds nothing missing when every tool is on PATH', () => {
    expect(missingTools(bin('all', Object.keys(NODE_TOOLS)))).toEqual([]);
    expect(preflight(path.join(root, 'all'))).toBeUndefined();
  });

  it('names each missing required command with its Debian package, and only warns for optional ones', () => {
    const dir = bin('partial', ['ip', 'bridge', 'tc', 'mount', 'umount', 'modprobe']);
    writeFileSync(path.join(dir, 'sysctl'), 'not executable');
    expect(missingTools(dir).sort()).toEqual(['dnsmasq', 'nft', 'sysctl']);
    expect(() => preflight(dir)).toThrow(PreflightError);
    expect(() => preflight(dir)).toThrow(/nft \(Debian package nftables.*sysctl \(Debian package procps/);
    const noDhcp = bin('nodhcp', Object.keys(NODE_TOOLS).filter((t) => t !== 'dnsmasq'));
    expect(preflight(noDhcp)).toMatch(/optional commands: dnsmasq \(Debian package dnsmasq-base: DHCP/);
  });
});
