// What a media build is asked for: shared by the CLI that parses the flags and the builder.

/** Options of one Linux media build (`lifeboat build linux`). */
export interface LinuxBuildOptions {
  readonly output: string;
  /** A linux-image .deb or an extracted one; undefined downloads linux-image-amd64's dependency. */
  readonly kernel: string | undefined;
  readonly cache: string | undefined;
  /** zstd level of the initramfs; undefined takes the builder's default. */
  readonly compressionLevel: number | undefined;
  /** Extra kernel arguments for every boot entry (e.g. lifeboat.run=... for unattended media). */
  readonly append: string | undefined;
  /** Seconds the boot menu waits; undefined keeps the profile's. */
  readonly menuTimeout: number | undefined;
}

/** Options of `lifeboat build sea`. */
export interface SeaBuildOptions {
  readonly output: string;
  /** false keeps the bundle's whitespace and module comments, for profiles (scripts/bench-start.ts --profile); default true. */
  readonly minify?: boolean;
  /** false builds without V8's code cache (a cache is made by the Node that runs the build: none for another platform's executable); default true. */
  readonly codeCache?: boolean;
}
