import type { INestApplication, Type } from '@nestjs/common';
import { PATH_METADATA, METHOD_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common';
import { MetadataScanner, ModulesContainer } from '@nestjs/core';
import type { Scope } from '@marvain/contracts';
import { AUTHENTICATED_ROUTE_KEY, PUBLIC_ROUTE_KEY, REQUIRED_SCOPE_KEY } from '@marvain/platform';

/** What a route declares about who may call it (the AuthGuard reads the same metadata). */
export type RouteAccess =
  { kind: 'public' } | { kind: 'authenticated' } | { kind: 'scope'; scope: Scope } | { kind: 'undeclared' };

export interface RouteEntry {
  method: string;
  /** Nest's path, parameters as `:name`, with a leading slash. */
  path: string;
  /** `METHOD /path`, the key the tests look routes up by. */
  key: string;
  controller: string;
  handler: string;
  access: RouteAccess;
  /** How many of public / authenticated / scope the route declares (exactly one is right). */
  declarations: number;
}

const asList = (value: unknown): string[] =>
  Array.isArray(value) ? (value as string[]) : [typeof value === 'string' ? value : ''];

function joinPath(...parts: string[]): string {
  const joined = parts
    .flatMap((p) => p.split('/'))
    .filter((p) => p.length > 0)
    .join('/');
  return `/${joined}`;
}

/** A handler's metadata, else its controller's (the guard's getAllAndOverride order). */
function metadata(key: string, handler: object, controller: Type): unknown {
  return (Reflect.getMetadata(key, handler) as unknown) ?? (Reflect.getMetadata(key, controller) as unknown);
}

/**
 * Every HTTP route the application serves, read from the controllers Nest registered: the
 * route table the authorization matrix and the bad-input sweep are generated from.
 */
export function routeTable(app: INestApplication): RouteEntry[] {
  const scanner = new MetadataScanner();
  const routes: RouteEntry[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as Type | null;
      if (!controller) {
        continue;
      }
      const prefixes = asList(Reflect.getMetadata(PATH_METADATA, controller));
      for (const name of scanner.getAllMethodNames(controller.prototype as object)) {
        const handler = (controller.prototype as Record<string, unknown>)[name] as object;
        const paths = Reflect.getMetadata(PATH_METADATA, handler) as unknown;
        if (paths === undefined) {
          continue;
        }
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
        const isPublic = metadata(PUBLIC_ROUTE_KEY, handler, controller) === true;
        const isAuthenticated = metadata(AUTHENTICATED_ROUTE_KEY, handler, controller) === true;
        const scope = metadata(REQUIRED_SCOPE_KEY, handler, controller) as Scope | undefined;
        const declarations = [isPublic, isAuthenticated, scope !== undefined].filter(Boolean).length;
        const access: RouteAccess = isPublic
          ? { kind: 'public' }
          : scope
            ? { kind: 'scope', scope }
            : isAuthenticated
              ? { kind: 'authenticated' }
              : { kind: 'undeclared' };
        for (const prefix of prefixes) {
          for (const suffix of asList(paths)) {
            const path = joinPath(prefix, suffix);
            routes.push({
              method,
              path,
              key: `${method} ${path}`,
              controller: controller.name,
              handler: name,
              access,
              declarations,
            });
          }
        }
      }
    }
  }
  return routes.sort((a, b) => a.key.localeCompare(b.key));
}
