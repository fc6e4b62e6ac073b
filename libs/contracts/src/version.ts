// The release has one source, the root package.json; the bundler inlines just this field.
// eslint-disable-next-line @nx/enforce-module-boundaries -- package.json is no project, so the rule cannot place it
import { version } from '../../../package.json';

/** The release: what `marvain --version`, /v1/health and the OpenAPI document report. */
export const MARVAIN_VERSION: string = version;
