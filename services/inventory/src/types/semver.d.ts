/**
 * The part of `semver` (7.x) the inventory uses. The package ships no types of its own and
 * `@types/semver` is not a dependency: these few signatures are all the service needs.
 */
declare module 'semver' {
  export interface Options {
    loose?: boolean;
    /** Lets a pre-release version satisfy a range whose comparators carry no pre-release tag. */
    includePrerelease?: boolean;
  }
  /** The version in normal form, or null when it is not a semantic version. */
  export function valid(version: string, options?: Options): string | null;
  /** The range in normal form, or null when it is not a range. */
  export function validRange(range: string, options?: Options): string | null;
  export function satisfies(version: string, range: string, options?: Options): boolean;
  /** True when the version is lower than every version the range allows. */
  export function ltr(version: string, range: string, options?: Options): boolean;
  /** True when the version is higher than every version the range allows. */
  export function gtr(version: string, range: string, options?: Options): boolean;
}
